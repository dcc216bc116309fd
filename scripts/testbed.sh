#!/usr/bin/env bash
# testbed.sh — N libvirt "cloud hosts" on this one machine, each in its own namespaces.
#
#   testbed.sh up N     create hosts cvmh2 .. cvmh(N+1) (first removes any leftovers)
#   testbed.sh down     stop and remove everything `up` created
#   testbed.sh status   list the hosts and whether their libvirtd and sshd answer
#   testbed.sh link K down|up        pull host K's cable / plug it back (chaos tests)
#   testbed.sh restart-libvirtd K    restart host K's libvirtd at once (chaos tests)
#
# Each host K (2 <= K <= N+1) is:
#   * a network namespace `cvmhK`: eth0 10.200.0.K/24 veth'd to the bridge cvmbr0
#     (10.200.0.1/24, root namespace), lo up, IPv6 off, no default route;
#   * a private UTS namespace (hostname cvmhK) and a private mount namespace with bind
#     mounts from STATE/hK/root over /run /etc/libvirt /etc/pki/qemu /var/lib/libvirt /var/log/libvirt
#     /var/cache/libvirt /var/lib/cvm /root /etc/hosts /etc/resolv.conf /etc/shadow, so its
#     daemons never share pidfiles, sockets, configuration or disk images with the root
#     libvirtd or with another host;
#   * virtlogd, libvirtd (no TCP listener: reached over SSH, like any host the orchestrator
#     manages) and sshd (10.200.0.K:22, keys only), all under `tini -s` (a child subreaper, so QEMU exits are reaped
#     promptly), the whole host being `ip netns pids cvmhK`.
#
# Output, under STATE (default /var/tmp/cvm-testbed, override with TESTBED_STATE):
#   STATE/hosts.json            every host: name, address, user, identity, known_hosts,
#                               host keys, libvirt URIs, image directory
#   STATE/client/id_ed25519     client identity (ed25519: libssh2 1.10 cannot sign with RSA
#                               in a way OpenSSH 9.2 accepts)
#   STATE/client/known_hosts    `10.200.0.K ssh-ed25519 …` and `… ssh-rsa …` per host
#   STATE/client/ssh            OpenSSH with those pinned keys: hosts.json's libvirtURI uses it
#   STATE/hK/log/               libvirtd, sshd and boot logs of host K
#
# Traffic stays on this machine: literal IPs only, an empty resolv.conf and a private
# /etc/hosts in every host, migration_host/migration_address pinned to the host's IP.
# Only one instance runs at a time (flock on /run/lock/cvm-testbed.lock): the bridge
# and namespace names are machine-wide.
set -euo pipefail

readonly SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
# A caller may start us with signals blocked or ignored (Foundation's Process does), and
# every daemon would inherit that: `down` could then not stop them with SIGTERM.
if [[ -z ${TESTBED_SIGNALS_RESET:-} ]]; then
    TESTBED_SIGNALS_RESET=1 exec env --default-signal "$SELF" "$@"
fi
readonly BRIDGE=cvmbr0
readonly PREFIX=10.200.0
readonly GATEWAY=$PREFIX.1
readonly IMAGE_DIR=/var/lib/cvm
readonly MAX_HOSTS=50
readonly READY_TIMEOUT=${TESTBED_READY_TIMEOUT:-120}
# Bind-mounted from STATE/hK/root/<same path> inside host K. /root is private too: the
# hosts start with an empty home, like fresh cloud machines, instead of running this
# machine's ~/.bashrc for every SSH command (Debian's bash sources it under sshd).
readonly PRIVATE_DIRS=(/run /etc/libvirt /etc/pki/qemu /var/lib/libvirt /var/log/libvirt /var/cache/libvirt "$IMAGE_DIR" /root)
readonly PRIVATE_FILES=(/etc/hosts /etc/resolv.conf /etc/shadow)

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

state_dir() {
    local s=${TESTBED_STATE:-/var/tmp/cvm-testbed}
    # The path goes into config files and JSON unquoted-safe, so keep it boring.
    [[ $s =~ ^/[A-Za-z0-9._/-]+$ ]] || die "TESTBED_STATE must be an absolute path of [A-Za-z0-9._/-]: '$s'"
    s=$(realpath -m -- "$s")
    [[ $s != / && $s != /var && $s != /var/tmp && $s != /tmp ]] || die "TESTBED_STATE=$s is too broad"
    local p
    for p in "${PRIVATE_DIRS[@]}" /etc; do
        # Inside a host, these paths show the host's own copy: STATE would vanish.
        [[ $s != "$p" && $s != "$p"/* ]] || die "TESTBED_STATE=$s must not be inside $p"
    done
    printf '%s\n' "$s"
}

require_root() { [[ $EUID -eq 0 ]] || die "must run as root (namespaces, bridges, libvirtd)"; }

require_tools() {
    local t missing=()
    for t in ip unshare tini libvirtd virtlogd virsh ssh ssh-keygen flock setsid sysctl timeout realpath findmnt; do
        command -v "$t" >/dev/null || missing+=("$t")
    done
    [[ -x /usr/sbin/sshd ]] || missing+=(/usr/sbin/sshd)
    ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"
}

take_lock() {
    local dir=/run/lock
    [[ -d $dir ]] || dir=/tmp
    exec 9>"$dir/cvm-testbed.lock"
    flock -w 600 9 || die "another testbed.sh holds $dir/cvm-testbed.lock"
}

netns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

# Host numbers with anything left: namespaces, root-side veths, state folders.
host_ids() {
    local state=$1
    {
        ip netns list | awk '{print $1}' | sed -n 's/^cvmh\([0-9][0-9]*\)$/\1/p'
        ip -o link show | awk -F': ' '{print $2}' | sed -n 's/^cvmh\([0-9][0-9]*\)-r\(@.*\)\{0,1\}$/\1/p'
        if [[ -d $state ]]; then
            find "$state" -mindepth 1 -maxdepth 1 -type d -name 'h[0-9]*' -printf '%f\n' | sed -n 's/^h\([0-9][0-9]*\)$/\1/p'
        fi
    } | sort -nu
}

# PIDs of every process in the network namespace with this inode.
netns_pids() {
    find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\\[$1\\]" 2>/dev/null | cut -d/ -f3
    return 0
}

# Kill every process in a network namespace (by inode): SIGTERM, 5 s grace, SIGKILL.
kill_netns() {
    local ino=$1 pids sig i
    for sig in TERM KILL; do
        for i in $(seq 50); do
            pids=$(netns_pids "$ino")
            [[ -n $pids ]] || return 0
            # shellcheck disable=SC2086
            if ((i == 1)); then kill -s "$sig" $pids 2>/dev/null || true; fi
            sleep 0.1
        done
    done
    log "warning: processes still in net:[$ino] after SIGKILL: $(netns_pids "$ino" | tr '\n' ' ')"
}

netns_runs_host() { # inode host-state-dir K
    local p
    for p in $(netns_pids "$1"); do
        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -e "$2/" -e "testbed.sh __boot $3" && return 0
    done
    return 1
}

# Namespaces of hosts whose tini still runs, whatever happened to their name and STATE.
orphan_host_netns() {
    local f
    for f in $(grep -lsaF '__boot' /proc/[0-9]*/cmdline); do
        tr '\0' ' ' 2>/dev/null <"$f" | grep -q '^tini -s -- [^ ]*testbed\.sh __boot [0-9]' || continue
        readlink "${f%/cmdline}/ns/net" 2>/dev/null | sed -n 's/^net:\[\([0-9]*\)\]$/\1/p'
    done | sort -u
}

# Stop host K: destroy its domains, kill every process in its network namespace, delete
# the namespace and the veth. The namespace is found by name or by the inode `up`
# recorded, so a host whose name was deleted by hand is still stopped.
stop_host() {
    local state=$1 k=$2 ns=cvmh$2 addr=$PREFIX.$2 h=$1/h$2 d ino inodes=()
    if netns_exists "$ns"; then
        inodes+=("$(stat -L -c %i "/run/netns/$ns")")
        if timeout 2 bash -c "exec 3<>/dev/tcp/$addr/22" 2>/dev/null; then
            for d in $(ssh_probe "$state" "$addr" virsh -q -c qemu:///system list --name 2>/dev/null || true); do
                ssh_probe "$state" "$addr" virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
            done
        fi
    fi
    # Namespace inodes are reused once free: trust the recorded one only while one of
    # this host's own processes still lives in it.
    if [[ -f $h/netns.inode ]]; then
        ino=$(tr -dc 0-9 <"$h/netns.inode")
        if [[ -n $ino ]] && netns_runs_host "$ino" "$h" "$k"; then inodes+=("$ino"); fi
    fi
    for ino in $(printf '%s\n' "${inodes[@]}" | grep -x '[0-9][0-9]*' | sort -u); do kill_netns "$ino"; done
    if netns_exists "$ns"; then ip netns delete "$ns" 2>/dev/null || log "warning: could not delete netns $ns"; fi
    ip link del "$ns-r" 2>/dev/null || true
}

remove_state() {
    local state=$1 m d
    [[ -e $state ]] || return 0
    if [[ ! -f $state/.cvm-testbed ]] && [[ -n $(ls -A "$state" 2>/dev/null) ]]; then
        die "refusing to delete $state: it has no .cvm-testbed marker"
    fi
    # Bind mounts live in the hosts' private mount namespaces, which died with their
    # processes; anything still mounted under STATE here was mounted by hand.
    while read -r m; do
        umount -l -- "$m" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET | awk -v s="$state/" 'index($0, s) == 1' | sort -r)
    local created=()
    [[ -f $state/created-mountpoints ]] && mapfile -t created <"$state/created-mountpoints"
    rm -rf --one-file-system -- "$state"
    # Mount points `up` had to create on the root filesystem; kept if anything uses them.
    for d in "${created[@]}"; do rmdir -- "$d" 2>/dev/null || true; done
}

cleanup_all() {
    local state=$1 k
    local ino
    for k in $(host_ids "$state"); do stop_host "$state" "$k"; done
    for ino in $(orphan_host_netns); do kill_netns "$ino"; done
    ip link del "$BRIDGE" 2>/dev/null || true
    remove_state "$state"
}

disable_ipv6() { # [netns] interface-or-all...
    [[ -d /proc/sys/net/ipv6 ]] || return 0
    local ns=$1 i
    shift
    for i in "$@"; do
        if [[ -n $ns ]]; then
            ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$i.disable_ipv6=1"
        else
            sysctl -q -w "net.ipv6.conf.$i.disable_ipv6=1"
        fi
    done
}

# Remove `key = value` settings (including multi-line [ … ] lists) from a libvirt
# config file, so the ones appended afterwards are the only ones.
strip_conf_keys() {
    local file=$1
    shift
    [[ -f $file ]] || return 0
    awk -v keys="$*" '
        BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) drop[k[i]] = 1 }
        skipping { depth += gsub(/\[/, "[") - gsub(/\]/, "]"); if (depth <= 0) skipping = 0; next }
        {
            line = $0; sub(/^[ \t]+/, "", line)
            key = line; sub(/[ \t]*=.*/, "", key)
            if (line ~ /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ && (key in drop)) {
                depth = gsub(/\[/, "[") - gsub(/\]/, "]"); if (depth > 0) skipping = 1; next
            }
            print
        }' "$file" >"$file.tmp"
    mv -- "$file.tmp" "$file"
}

prepare_host() {
    local state=$1 n=$2 k=$3 name=cvmh$3 addr=$PREFIX.$3 h=$1/h$3 p j
    mkdir -p "$h/log" "$h/ssh"
    for p in "${PRIVATE_DIRS[@]}"; do mkdir -p "$h/root$p"; done
    mkdir -p "$h/root/etc"
    chmod 755 "$h/root/run" "$h/root$IMAGE_DIR"
    chmod 700 "$h/root/root"

    # libvirt: the system's top-level config files only. Domain, network, pool and
    # secret definitions and hooks belong to the root host and are not copied.
    local etc=$h/root/etc/libvirt
    if [[ -d /etc/libvirt ]]; then
        find /etc/libvirt -mindepth 1 -maxdepth 1 -type f -name '*.conf' -exec cp -p -t "$etc" {} +
    fi
    strip_conf_keys "$etc/libvirtd.conf" listen_tls listen_tcp listen_addr tcp_port auth_tcp host_uuid \
        host_uuid_source log_outputs log_filters
    cat >>"$etc/libvirtd.conf" <<EOF
# --- testbed.sh: host $name ---
# Reached over SSH only (as the orchestrator does): no TCP listener, no unauthenticated access.
listen_tls = 0
listen_tcp = 0
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    strip_conf_keys "$etc/qemu.conf" user group cgroup_controllers remember_owner migration_host \
        migration_address security_driver
    cat >>"$etc/qemu.conf" <<EOF
# --- testbed.sh: host $name ---
user = "root"
group = "root"
cgroup_controllers = [ ]
remember_owner = 0
# The source dials what the destination advertises: an IP, never a name to resolve.
migration_host = "$addr"
migration_address = "$addr"
# No AppArmor/SELinux labelling inside a namespace host.
security_driver = "none"
EOF

    {
        printf '127.0.0.1 localhost\n%s vm\n' "$GATEWAY"
        for ((j = 2; j <= n + 1; j++)); do printf '%s.%d cvmh%d\n' "$PREFIX" "$j" "$j"; done
    } >"$h/root/etc/hosts"
    : >"$h/root/etc/resolv.conf"
    # sshd with UsePAM no refuses accounts whose shadow password starts with '!' (root on
    # a fresh Debian install). Inside this host root gets '*': unlocked, no password.
    printf 'root:*:%d:0:99999:7:::\n' $(($(date +%s) / 86400)) >"$h/root/etc/shadow"
    chmod 640 "$h/root/etc/shadow"

    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$h/ssh/ssh_host_ed25519_key"
    # RSA only so that OpenSSH clients have a second type; 2048 bits keep `up` quick.
    ssh-keygen -q -t rsa -b 2048 -N '' -C "$name" -f "$h/ssh/ssh_host_rsa_key"
    cp -- "$state/client/id_ed25519.pub" "$h/ssh/authorized_keys"
    chmod 600 "$h/ssh/authorized_keys"
    cat >"$h/ssh/sshd_config" <<EOF
# testbed.sh: sshd of host $name (standalone: does not include /etc/ssh/sshd_config)
ListenAddress $addr
Port 22
AddressFamily inet
HostKey $h/ssh/ssh_host_ed25519_key
HostKey $h/ssh/ssh_host_rsa_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile $h/ssh/authorized_keys
# STATE may sit below /var/tmp (mode 1777), which StrictModes rejects; STATE itself is 0700.
StrictModes no
UseDNS no
PrintMotd no
X11Forwarding no
AllowAgentForwarding no
# Parallel tests open many sessions at once.
MaxStartups 64:30:128
MaxSessions 64
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
}

create_netns() {
    local state=$1 k=$2 ns=cvmh$2 addr=$PREFIX.$2
    ip netns add "$ns"
    stat -L -c %i "/run/netns/$ns" >"$state/h$k/netns.inode"
    disable_ipv6 "$ns" all default
    ip link add "$ns-r" type veth peer name eth0 netns "$ns"
    disable_ipv6 "" "$ns-r"
    ip link set "$ns-r" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
}

launch_host() {
    local state=$1 k=$2 h=$1/h$2 p fd
    (
        # Nothing of ours may leak into the daemons: not the lock, not a caller's pipe.
        for p in /proc/$BASHPID/fd/*; do
            fd=${p##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C TESTBED_STATE="$state" \
            setsid ip netns exec "cvmh$k" unshare --uts --mount --propagation private -- \
            tini -s -- "$SELF" __boot "$k"
    ) </dev/null >>"$h/log/boot.log" 2>&1 &
}

# Runs inside host K's namespaces as tini's child (see launch_host).
boot_host() {
    local k=$1 state h p
    state=$(state_dir)
    h=$state/h$k
    echo "$PPID" >"$h/tini.pid"
    hostname "cvmh$k"
    for p in "${PRIVATE_DIRS[@]}" "${PRIVATE_FILES[@]}"; do mount --bind "$h/root$p" "$p"; done
    mkdir -p /run/libvirt /run/lock /run/sshd
    chmod 755 /run/sshd
    virtlogd -d
    libvirtd -d --listen
    /usr/sbin/sshd -f "$h/ssh/sshd_config" -E "$h/log/sshd.log"
    echo "cvmh$k: daemons started"
    exec sleep infinity
}

ssh_probe() { # state addr command...
    local state=$1 addr=$2
    shift 2
    timeout 15 ssh -F /dev/null -i "$state/client/id_ed25519" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$state/client/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 "root@$addr" "$@"
}

libvirt_probe() { # state addr -> prints the host name (libvirtd asked over SSH)
    ssh_probe "$1" "$2" virsh -q -c qemu:///system hostname 2>/dev/null
}

wait_ready() {
    local state=$1 n=$2 k deadline=$((SECONDS + READY_TIMEOUT))
    for ((k = 2; k <= n + 1; k++)); do
        until [[ $(libvirt_probe "$state" "$PREFIX.$k") == "cvmh$k" ]]; do
            ((SECONDS < deadline)) || die "cvmh$k: libvirtd did not answer over SSH on $PREFIX.$k within ${READY_TIMEOUT}s"
            sleep 0.2
        done
        until [[ $(ssh_probe "$state" "$PREFIX.$k" hostname 2>/dev/null) == "cvmh$k" ]]; do
            ((SECONDS < deadline)) || die "cvmh$k: sshd did not accept the client key on $PREFIX.$k:22 within ${READY_TIMEOUT}s"
            sleep 0.2
        done
    done
}

pubkey() { awk '{print $1" "$2}' "$1"; }

write_hosts_json() {
    local state=$1 n=$2 k h sep=""
    local id=$state/client/id_ed25519 kh=$state/client/known_hosts
    {
        printf '{\n  "state": "%s",\n  "bridge": "%s",\n  "gateway": "%s",\n' "$state" "$BRIDGE" "$GATEWAY"
        printf '  "client": {"identity": "%s", "publicKey": "%s", "knownHosts": "%s"},\n' "$id" "$(pubkey "$id.pub")" "$kh"
        printf '  "hosts": [\n'
        for ((k = 2; k <= n + 1; k++)); do
            h=$state/h$k
            printf '%s    {"name": "cvmh%d", "address": "%s.%d", "sshPort": 22, "user": "root",\n' "$sep" "$k" "$PREFIX" "$k"
            printf '     "identity": "%s", "knownHosts": "%s",\n' "$id" "$kh"
            printf '     "hostKey": "%s", "hostKeyRSA": "%s",\n' "$(pubkey "$h/ssh/ssh_host_ed25519_key.pub")" "$(pubkey "$h/ssh/ssh_host_rsa_key.pub")"
            printf '     "libvirtURI": "qemu+ssh://root@%s.%d/system?keyfile=%s&command=%s&no_tty=1",\n' "$PREFIX" "$k" "$id" "$state/client/ssh"
            printf '     "libvirtSSHURI": "qemu+libssh2://root@%s.%d/system?keyfile=%s&known_hosts=%s&sshauth=privkey",\n' "$PREFIX" "$k" "$id" "$kh"
            printf '     "imageDir": "%s", "netns": "cvmh%d", "stateDir": "%s"}' "$IMAGE_DIR" "$k" "$h"
            sep=$',\n'
        done
        printf '\n  ]\n}\n'
    } >"$state/hosts.json.tmp"
    mv -- "$state/hosts.json.tmp" "$state/hosts.json"
}

up_failed() {
    local state=$1 f
    log "up failed; recent logs:"
    for f in "$state"/h*/log/boot.log "$state"/h*/log/sshd.log "$state"/h*/root/var/log/libvirt/libvirtd.log; do
        [[ -s $f ]] || continue
        log "--- $f"
        tail -n 15 -- "$f" >&2
    done
    if [[ ${TESTBED_KEEP_ON_FAILURE:-0} == 1 ]]; then
        log "TESTBED_KEEP_ON_FAILURE=1: leaving everything in place; run '$SELF down' later"
    else
        cleanup_all "$state"
    fi
}

cmd_up() {
    local n=${1:-} state k d started=$SECONDS
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_HOSTS)) || die "usage: testbed.sh up N (1 <= N <= $MAX_HOSTS)"
    state=$(state_dir)
    require_root
    require_tools
    take_lock
    cleanup_all "$state"
    trap 'rc=$?; trap - EXIT; if ((rc != 0)); then up_failed "'"$state"'"; fi; exit $rc' EXIT

    mkdir -p -m 700 "$state"
    touch "$state/.cvm-testbed"
    for d in "${PRIVATE_DIRS[@]}"; do
        [[ -d $d ]] && continue
        mkdir -p -- "$d"
        echo "$d" >>"$state/created-mountpoints"
    done

    mkdir -p -m 700 "$state/client"
    ssh-keygen -q -t ed25519 -N '' -C cvm-testbed-client -f "$state/client/id_ed25519"
    # How tests reach the hosts' libvirtds (`qemu+ssh://…&command=` in hosts.json): OpenSSH
    # with the pinned known_hosts, keys only.
    cat >"$state/client/ssh" <<EOF
#!/bin/sh
exec /usr/bin/ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \\
    -o UserKnownHostsFile='$state/client/known_hosts' -o GlobalKnownHostsFile=/dev/null "\$@"
EOF
    chmod 700 "$state/client/ssh"

    ip link add "$BRIDGE" type bridge
    disable_ipv6 "" "$BRIDGE"
    ip addr add "$GATEWAY/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up

    local jobs=()
    for ((k = 2; k <= n + 1; k++)); do
        prepare_host "$state" "$n" "$k" &
        jobs+=($!)
    done
    for k in "${jobs[@]}"; do wait "$k" || die "preparing a host failed (see above)"; done
    : >"$state/client/known_hosts"
    for ((k = 2; k <= n + 1; k++)); do
        printf '%s.%d %s\n' "$PREFIX" "$k" "$(pubkey "$state/h$k/ssh/ssh_host_ed25519_key.pub")"
        printf '%s.%d %s\n' "$PREFIX" "$k" "$(pubkey "$state/h$k/ssh/ssh_host_rsa_key.pub")"
    done >>"$state/client/known_hosts"
    for ((k = 2; k <= n + 1; k++)); do
        create_netns "$state" "$k"
        launch_host "$state" "$k"
    done
    wait_ready "$state" "$n"
    write_hosts_json "$state" "$n"
    trap - EXIT
    log "$n host(s) up in $((SECONDS - started))s; see $state/hosts.json"
    for ((k = 2; k <= n + 1; k++)); do printf 'cvmh%d %s.%d\n' "$k" "$PREFIX" "$k"; done
}

cmd_down() {
    local state
    state=$(state_dir)
    require_root
    take_lock
    cleanup_all "$state"
    log "down"
}

cmd_status() {
    local state k any=0 bad=0 lv sh
    state=$(state_dir)
    require_root
    printf '%-8s %-12s %-9s %s\n' HOST ADDRESS LIBVIRTD SSHD
    for k in $(host_ids "$state"); do
        any=1
        lv=down sh=down
        [[ -f $state/client/id_ed25519 && $(libvirt_probe "$state" "$PREFIX.$k") == "cvmh$k" ]] && lv=ok
        [[ -f $state/client/id_ed25519 && $(ssh_probe "$state" "$PREFIX.$k" hostname 2>/dev/null) == "cvmh$k" ]] && sh=ok
        [[ $lv == ok && $sh == ok ]] || bad=1
        printf '%-8s %-12s %-9s %s\n' "cvmh$k" "$PREFIX.$k" "$lv" "$sh"
    done
    ((any)) || { log "no hosts"; return 3; }
    [[ -f $state/hosts.json ]] && log "hosts: $state/hosts.json"
    return $bad
}

# Faults for the chaos tests.
host_arg() {
    [[ ${1:-} =~ ^[0-9]+$ ]] && netns_exists "cvmh$1" || die "no test-bed host cvmh${1:-?}"
}

# link K down|up: the host's cable: its veth on the bridge goes down (established
# connections hang, new ones find no route) or comes back.
cmd_link() {
    local k=${1:-} how=${2:-}
    require_root
    host_arg "$k"
    [[ $how == up || $how == down ]] || die "usage: testbed.sh link K down|up"
    ip link set "cvmh$k-r" "$how"
    log "cvmh$k: link $how"
}

# Runs a command inside host K's namespaces (those of its tini), with a clean environment
# and none of our descriptors: a caller waiting for this script's end through an inherited
# descriptor would otherwise wait for the daemon's (see launch_host).
in_host() { # [--background] state k tini command...
    local bg=0 state k tini
    [[ $1 == --background ]] && { bg=1; shift; }
    state=$1 k=$2 tini=$3
    shift 3
    if ((bg)); then
        in_host_exec "$tini" "$@" </dev/null >>"$state/h$k/log/boot.log" 2>&1 &
    else
        (in_host_exec "$tini" "$@") </dev/null >>"$state/h$k/log/boot.log" 2>&1
    fi
}

# Closes our descriptors, then becomes the command: call it in a process of its own.
in_host_exec() { # tini command...
    local p fd tini=$1
    shift
    for p in /proc/$BASHPID/fd/*; do
        fd=${p##*/}
        if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C nsenter -t "$tini" -m -u -n -- "$@"
}

# restart-libvirtd K: stops host K's libvirtd (SIGTERM, as a package upgrade or an operator
# does) and starts it again at once, inside the host's namespaces. Its guests keep running.
cmd_restart_libvirtd() {
    local k=${1:-} state pid p tini i
    require_root
    host_arg "$k"
    state=$(state_dir)
    tini=$(cat "$state/h$k/tini.pid")
    for pid in $(ip netns pids "cvmh$k"); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == libvirtd ]] && kill -TERM "$pid"
    done
    for ((i = 0; i < 100; i++)); do
        pid=""
        for p in $(ip netns pids "cvmh$k"); do [[ $(cat "/proc/$p/comm" 2>/dev/null) == libvirtd ]] && pid=$p; done
        [[ -z $pid ]] && break
        sleep 0.05
    done
    [[ -z $pid ]] || die "cvmh$k: libvirtd (pid $pid) did not stop"
    rm -f "$state/h$k/root/run/libvirtd.pid"
    # virtlogd stays (guests log through it); started if something stopped it.
    local logd=""
    for p in $(ip netns pids "cvmh$k"); do [[ $(cat "/proc/$p/comm" 2>/dev/null) == virtlogd ]] && logd=$p; done
    [[ -n $logd ]] || in_host "$state" "$k" "$tini" virtlogd -d
    # Under a tini of its own: a child subreaper for the QEMUs it starts, like the first one.
    in_host --background "$state" "$k" "$tini" setsid tini -s -- libvirtd --listen
    for ((i = 0; i < 100; i++)); do
        [[ $(libvirt_probe "$state" "$PREFIX.$k") == "cvmh$k" ]] && break
        sleep 0.05
    done
    log "cvmh$k: libvirtd restarted"
}

case ${1:-} in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
status) cmd_status ;;
link) shift; cmd_link "$@" ;;
restart-libvirtd) shift; cmd_restart_libvirtd "$@" ;;
__boot) boot_host "$2" ;;
*) die "usage: testbed.sh up N | down | status | link K down|up | restart-libvirtd K" ;;
esac
