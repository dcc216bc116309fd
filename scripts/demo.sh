#!/usr/bin/env bash
# The main job on a fresh machine: install and start a local libvirt if needed, build
# cvmctl and the CVM image, start the heartbeat monitor, deploy a CVM and show it
# heartbeating. Safe to run again (deploy is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
export CVM_STATE="${CVM_STATE:-/var/lib/cvmctl}"

bash scripts/setup-host.sh
swift build -c release --product cvmctl 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
cvmctl=.build/release/cvmctl

$cvmctl image build cvm-base
mkdir -p "$CVM_STATE"
if ! $cvmctl status --json 2>/dev/null | grep -q '"monitorAlive" : true'; then
    setsid nohup $cvmctl monitor >"$CVM_STATE/monitor.log" 2>&1 </dev/null &
    echo "started the heartbeat monitor (log: $CVM_STATE/monitor.log)"
fi
$cvmctl deploy --image cvm-base --name demo
sleep 2
$cvmctl status
echo
echo "Watch it: $cvmctl status    Remove it: $cvmctl decommission demo"
