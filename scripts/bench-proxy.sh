#!/usr/bin/env bash
# Traffic manager vs HAProxy in front of one nginx on loopback (see Benchmarks/tms-proxy/).
# Builds cvmctl in release mode, installs nginx, haproxy and wrk from Debian if missing,
# prints requests/s and p99 latency of both and their ratios (median of RUNS runs).
#   bash scripts/bench-proxy.sh            # CORES=1 DURATION=5 RUNS=3 by default
#   CORES=2 RUNS=5 bash scripts/bench-proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${SWIFT_SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product cvmctl 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
exec bash Benchmarks/tms-proxy/bench.sh "$scratch/release/cvmctl"
