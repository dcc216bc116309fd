#!/usr/bin/env bash
# Prepares this machine to run CVMs: installs what is missing from Debian's packages and
# starts a local libvirt (virtlogd + libvirtd under a child subreaper) if none answers.
# Idempotent: safe to run before every job.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
          qemu-system-x86 qemu-utils tini cpio gzip libssh2-1-dev openssh-server
          openssh-client iproute2 pkg-config libsqlite3-dev git ca-certificates openssl zlib1g-dev tcpdump nftables iputils-ping)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# What Debian's libvirtd needs before it starts in a container without systemd.
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/images

conf=/etc/libvirt/qemu.conf
set_conf() { # key value
    if grep -qsE "^[[:space:]]*$1[[:space:]]*=" "$conf"; then
        sed -i -E "s|^[[:space:]]*$1[[:space:]]*=.*|$1 = $2|" "$conf"
    else
        printf '%s = %s\n' "$1" "$2" >>"$conf"
    fi
}
set_conf user '"root"'
set_conf group '"root"'
set_conf cgroup_controllers '[ ]'
set_conf remember_owner 0

if virsh -q -c qemu:///system version >/dev/null 2>&1; then
    log "libvirtd already answers on qemu:///system"
    exit 0
fi

log "starting virtlogd and libvirtd under a child subreaper"
pkill -x libvirtd 2>/dev/null || true
pkill -x virtlogd 2>/dev/null || true
rm -f /var/run/libvirtd.pid /var/run/virtlogd.pid
# tini -s reaps QEMU processes promptly (the sandbox's PID 1 does not), which keeps
# virDomainDestroy at ~0.2 s instead of ~2 s.
setsid tini -s -- bash -c 'virtlogd -d && libvirtd -d && exec sleep infinity' \
    </dev/null >/var/log/libvirt/cvm-daemons.log 2>&1 &
for _ in $(seq 1 100); do
    virsh -q -c qemu:///system version >/dev/null 2>&1 && { log "libvirtd is up"; exit 0; }
    sleep 0.1
done
log "libvirtd did not come up; see /var/log/libvirt/cvm-daemons.log"
exit 1
