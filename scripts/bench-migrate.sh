#!/usr/bin/env bash
# Migration benchmark: cvmctl migrate vs plain libvirt live migration between two test-bed hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
swift build -c release --product cvmctl 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
swift build -c release --product migrate-bench 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
.build/release/cvmctl image build cvm-base -q
trap 'bash scripts/testbed.sh down >/dev/null 2>&1 || true' EXIT
bash scripts/testbed.sh up 2
.build/release/migrate-bench "${1:-6}"
