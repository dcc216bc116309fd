#!/usr/bin/env bash
# Deploy benchmark: cvmctl deploy vs plain libvirt define+start, to the first heartbeat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
swift build -c release --product cvmctl 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
swift build -c release --product deploy-bench 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
.build/release/cvmctl image build cvm-base -q
.build/release/deploy-bench "${1:-7}"
