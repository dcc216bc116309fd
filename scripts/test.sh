#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs and starts what it
# needs (libvirtd, QEMU, ...), builds everything and the CVM image, then runs the unit
# tests, the integration tests against real libvirt + QEMU, and the ThreadSanitizer run
# of the concurrent core.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "host setup"
bash scripts/setup-host.sh

step "API checker: schemathesis (from PyPI), run against a live cvmctl serve by APITests"
if ! command -v schemathesis >/dev/null; then
    python3 -m pip --version >/dev/null 2>&1 || { apt-get install -y -q python3-pip >/dev/null; }
    python3 -m pip install -q --disable-pip-version-check schemathesis==4.32.5 \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages schemathesis==4.32.5
fi

step "promtool (from Debian's prometheus package, unpacked: only the checker is needed), run on /metrics by APITests"
if ! command -v promtool >/dev/null; then
    scratch=$(mktemp -d)
    (cd "$scratch" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download prometheus >/dev/null; }; } \
        && dpkg -x prometheus_*.deb x && install -m 755 x/usr/bin/promtool /usr/local/bin/promtool)
    rm -rf "$scratch"
fi

step "checkers: systemd-analyze (units) and groff (man pages) for InstallTests, headless Chromium for DashboardTests"
tools=()
command -v systemd-analyze >/dev/null || tools+=(systemd)
command -v groff >/dev/null || tools+=(groff-base)
command -v chromium >/dev/null || tools+=(chromium)
if ((${#tools[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${tools[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${tools[@]}" >/dev/null; }
fi

step "build"
swift build --build-tests 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }

step "CVM images"
.build/debug/cvmctl image build cvm-base
.build/debug/cvmctl image build cvm-tms

step "unit tests"
swift test --skip-build --skip IntegrationTests

step "test bed: 2 cloud hosts in network namespaces (libvirtd + sshd each)"
trap 'bash scripts/testbed.sh down >/dev/null 2>&1 || true' EXIT
bash scripts/testbed.sh up 2

step "integration tests (real libvirtd + QEMU guests, real sshd; one at a time)"
swift test --skip-build --filter IntegrationTests --no-parallel

if [ -d Tests/TMSCoreTests ] && grep -rqs "Thread" Tests/TMSCoreTests; then
    step "ThreadSanitizer: TMSCore pools, the TrafficManager data plane, the libvirt binding and its blocking pool"
    TSAN_OPTIONS="suppressions=$PWD/scripts/tsan-suppressions.txt" \
        CVM_TSAN_SUBSET=1 swift test --sanitize=thread --scratch-path .build-tsan --filter "TMSCoreTests|TrafficManagerTests|LibvirtTests" 2>&1 \
        | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
fi

step "done"
