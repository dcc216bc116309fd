#!/usr/bin/env bash
# The traffic manager against HAProxy, side by side, on loopback.
#
#   Benchmarks/tms-proxy/bench.sh CVMCTL
#
# One nginx backend (one worker), then `cvmctl tms run` and HAProxy in front of it with the
# same core count, each driven by the same wrk load: tcp and http modes, keep-alive and a new
# connection per request (Connection: close). Two measurements per scenario, runs of the two
# proxies interleaved (each first in turn), medians of RUNS runs (the ratios: medians of each
# tms run against the HAProxy run next to it):
# - capacity: requests/s with wrk sending as fast as it can. The load side (wrk and nginx)
#   costs about what a proxy does per request, so where it has no more CPUs than a proxy it
#   would be the limit; then each proxy is capped to a share of its core (PROXY_CPU_LIMIT) so
#   that the proxy is what limits the rate, and req/s compares the two at equal CPU;
# - latency at a fixed rate both sustain (each connection waits between requests), uncapped:
#   p99 and CPU time per request at equal load.
# Each row also gives the CPU of wrk and nginx and how busy their CPUs were (a row whose load
# CPUs were saturated is flagged), then system calls per request with a new connection each
# (strace; SYSCALLS=0 skips it). In the http rows both proxies parse every request, add
# X-Forwarded-For and reuse server connections the same way (the traffic manager's routing:
# request, HAProxy's mode http with http-reuse safe).
# The tcp rows at a fixed rate also measure a bare relay (bare-relay.c, built with cc when
# there is one: one thread, epoll, recv and send, nothing else) on the proxies' CPUs: the floor
# of any proxy on this host, and how far its own p99 ratio to HAProxy swings run to run.
#
# Environment: CORES (proxy cores, default 1), DURATION (seconds per run, default 5),
# RATE_DELAY_KA / RATE_DELAY_CLOSE (the fixed rate's wait per connection, ms: 2 and 10),
# RUNS (default 3), CONNECTIONS (wrk -c, default 50), THREADS (wrk -t, default 1),
# SCENARIOS (default "tcp:keep-alive tcp:close http:keep-alive http:close"),
# PROXY_CPUS / LOAD_CPUS (taskset lists: the proxies get PROXY_CPUS, nginx and wrk
# LOAD_CPUS; default on a 2-core machine: 1 and 0, so proxy and load never compete),
# PROXY_CPU_LIMIT (a share of each proxy core a proxy may use, by a CPU cgroup of its own:
# "0.5" = half; default: 0.5 when the load has no more CPUs than a proxy, so that the proxy,
# not wrk and nginx, is what limits the rate; "none" turns it off).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cvmctl="${1:?usage: bench.sh PATH/TO/cvmctl}"
cores="${CORES:-1}"
duration="${DURATION:-5}"
runs="${RUNS:-3}"
connections="${CONNECTIONS:-50}"
threads="${THREADS:-1}"
ncpu="$(nproc)"
if [ -z "${PROXY_CPUS:-}" ]; then
    if [ "$ncpu" -ge $((cores + 1)) ]; then PROXY_CPUS="$(seq -s, $((ncpu - cores)) $((ncpu - 1)))"; LOAD_CPUS="$(seq -s, 0 $((ncpu - cores - 1)))"
    else PROXY_CPUS="0-$((ncpu - 1))"; LOAD_CPUS="0-$((ncpu - 1))"; fi
fi
LOAD_CPUS="${LOAD_CPUS:-0-$((ncpu - 1))}"
count_cpus() { echo "$1" | awk -F, '{ n = 0; for (i = 1; i <= NF; i++) { k = split($i, r, "-"); n += (k == 2) ? r[2] - r[1] + 1 : 1 } print n }'; }
if [ -z "${PROXY_CPU_LIMIT:-}" ]; then
    if [ "$(count_cpus "$LOAD_CPUS")" -le "$cores" ]; then PROXY_CPU_LIMIT=0.5; else PROXY_CPU_LIMIT=none; fi
fi

for tool in nginx haproxy wrk; do
    command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
done
missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
    # Debian's packages may start their own daemons: this benchmark runs its own.
    service nginx stop >/dev/null 2>&1 || true
    service haproxy stop >/dev/null 2>&1 || true
fi

BACKEND_PORT=18480 TMS_TCP_PORT=18481 TMS_HTTP_PORT=18482 HAPROXY_TCP_PORT=18483 HAPROXY_HTTP_PORT=18484 ADMIN_PORT=18490 BARE_PORT=18485
dir="$(mktemp -d /tmp/tms-proxy-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
    for group in "${cgroups[@]}"; do rmdir "$group" 2>/dev/null || true; done
}
cgroups=()
# Each proxy in a CPU cgroup of its own (with PROXY_CPU_LIMIT), capped by `cap on` to that
# share of each of its cores over short periods (10 ms: a proxy waiting for its next share
# stalls briefly), uncapped by `cap off`.
cap_period=10000
group_of() {
    local name="$1"
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo "/sys/fs/cgroup/tms-proxy-bench-$name-$$"
    else echo "/sys/fs/cgroup/cpu/tms-proxy-bench-$name-$$"; fi
}
cap_group() {
    local pid="$1" group
    [ "$PROXY_CPU_LIMIT" = none ] && return 0
    group="$(group_of "$pid")"
    mkdir "$group" 2>/dev/null || { echo "cannot make a CPU cgroup for PROXY_CPU_LIMIT ($group): run as root, or PROXY_CPU_LIMIT=none" >&2; exit 1; }
    cgroups+=("$group")
    echo "$pid" > "$group/cgroup.procs"
}
cap() {
    local quota group
    [ "$PROXY_CPU_LIMIT" = none ] && return 0
    quota="$(awk -v l="$PROXY_CPU_LIMIT" -v c="$cores" -v p="$cap_period" 'BEGIN { printf "%d", l * c * p }')"
    for group in "${cgroups[@]}"; do
        if [ -f "$group/cpu.max" ]; then
            if [ "$1" = on ]; then echo "$quota $cap_period" > "$group/cpu.max"; else echo "max $cap_period" > "$group/cpu.max"; fi
        else
            echo "$cap_period" > "$group/cpu.cfs_period_us"
            if [ "$1" = on ]; then echo "$quota" > "$group/cpu.cfs_quota_us"; else echo -1 > "$group/cpu.cfs_quota_us"; fi
        fi
    done
}
trap cleanup EXIT

render() {
    sed -e "s|@DIR@|$dir|g" -e "s|@CORES@|$cores|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
        -e "s|@TMS_TCP_PORT@|$TMS_TCP_PORT|g" -e "s|@TMS_HTTP_PORT@|$TMS_HTTP_PORT|g" \
        -e "s|@HAPROXY_TCP_PORT@|$HAPROXY_TCP_PORT|g" -e "s|@HAPROXY_HTTP_PORT@|$HAPROXY_HTTP_PORT|g" \
        -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" "$here/$1" > "$dir/${1%.in}"
}
render nginx.conf.in; render haproxy.cfg.in; render tms.yaml.in

wait_port() {
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "nothing listens on 127.0.0.1:$1" >&2; return 1
}

ulimit -n 20000 2>/dev/null || true
taskset -c "$LOAD_CPUS" nginx -c "$dir/nginx.conf" & nginx_pid=$!; pids+=($nginx_pid)
taskset -c "$PROXY_CPUS" "$cvmctl" tms run --config "$dir/tms.yaml" -q > "$dir/tms.log" 2>&1 & tms_pid=$!; pids+=($tms_pid)
taskset -c "$PROXY_CPUS" haproxy -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 & haproxy_pid=$!; pids+=($haproxy_pid)
bare_pid=""
if command -v cc >/dev/null && cc -O2 -o "$dir/bare-relay" "$here/bare-relay.c" 2>"$dir/bare-relay.log"; then
    taskset -c "$PROXY_CPUS" "$dir/bare-relay" "$BARE_PORT" "$BACKEND_PORT" >> "$dir/bare-relay.log" 2>&1 & bare_pid=$!; pids+=($bare_pid)
    wait_port "$BARE_PORT" || { cat "$dir/bare-relay.log" >&2; exit 1; }
fi
for port in $BACKEND_PORT $TMS_TCP_PORT $TMS_HTTP_PORT $HAPROXY_TCP_PORT $HAPROXY_HTTP_PORT; do
    wait_port "$port" || { cat "$dir/tms.log" "$dir/haproxy.log" >&2; exit 1; }
done
cap_group "$tms_pid"; cap_group "$haproxy_pid"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The CPU time of a process and all its threads and children that are still alive (nginx:
# the master and its workers).
tree_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" 2>/dev/null); do total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0))); done
    echo "$total"
}
# Busy and total jiffies of the CPUs in a taskset list (0 or 0-1 or 0,1).
cpu_busy() {
    local list="$1" cpus
    cpus="$(echo "$list" | awk -F, '{ for (i = 1; i <= NF; i++) { n = split($i, r, "-"); if (n == 2) for (c = r[1]; c <= r[2]; c++) printf "cpu%d ", c; else printf "cpu%d ", r[1] } }')"
    awk -v want="$cpus" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
        ($1 in keep) { busy += $2 + $3 + $4 + $7 + $8; all += $2 + $3 + $4 + $5 + $6 + $7 + $8 }
        END { print busy, all }' /proc/stat
}
hz="$(getconf CLK_TCK)"

# One wrk run: prints "requests/s p99_ms proxy_cpu% proxy_us_per_request wrk_cpu% nginx_cpu% load_cpus_busy%".
measure() {
    local port="$1" pid="$2" header="$3" seconds="${4:-$duration}" delay="${5:-}" out before after nginx_before nginx_after load_before load_after wrk_times
    before="$(cpu_ticks "$pid")"; nginx_before="$(tree_ticks "$nginx_pid")"; load_before="$(cpu_busy "$LOAD_CPUS")"
    local args=(-t"$threads" -c"$connections" -d"${seconds}s" --latency)
    [ -n "$header" ] && args+=(-H "$header")
    # A fixed rate: each connection waits `delay` ms between its requests.
    if [ -n "$delay" ]; then echo "function delay() return $delay end" > "$dir/delay.lua"; args+=(-s "$dir/delay.lua"); fi
    out="$( { TIMEFORMAT='WRKTIME %U %S'; time taskset -c "$LOAD_CPUS" wrk "${args[@]}" "http://127.0.0.1:$port/"; } 2>&1 )"
    after="$(cpu_ticks "$pid")"; nginx_after="$(tree_ticks "$nginx_pid")"; load_after="$(cpu_busy "$LOAD_CPUS")"
    if echo "$out" | grep -qE "Non-2xx|Socket errors: connect [1-9]|read [1-9][0-9]{2,}"; then
        echo "$out" | grep -E "Non-2xx|Socket errors" >&2
    fi
    echo "$out" | awk -v ticks=$((after - before)) -v nticks=$((nginx_after - nginx_before)) -v hz="$hz" -v d="$seconds" \
        -v lb="$load_before" -v la="$load_after" '
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
                      p99 = (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
        $1 == "WRKTIME" { wrk = ($2 + $3) / d * 100 }
        END { split(lb, b, " "); split(la, a, " ")
              busy = (a[2] - b[2]) > 0 ? (a[1] - b[1]) / (a[2] - b[2]) * 100 : 0
              printf "%.0f %.2f %.0f %.1f %.0f %.0f %.0f\n", rps, p99, ticks / hz / d * 100,
                     (rps > 0 ? ticks / hz / (rps * d) * 1e6 : 0), wrk, nticks / hz / d * 100, busy }'
}

# System calls per request of a proxy (all its threads), counted by strace over a short run
# with a new connection per request; strace slows the proxy, not what it calls per request.
syscalls_per_request() {
    local port="$1" pid="$2" trace="$dir/strace.$2" tids out requests total
    tids="$(ls "/proc/$pid/task" | sed 's/^/-p /' | tr '\n' ' ')"
    # shellcheck disable=SC2086
    strace -c -f $tids -o "$trace" 2>/dev/null & local tracer=$!
    sleep 1
    out="$(taskset -c "$LOAD_CPUS" wrk -t1 -c10 -d2s -H "Connection: close" "http://127.0.0.1:$port/" 2>&1)"
    kill -INT "$tracer" 2>/dev/null; wait "$tracer" 2>/dev/null || true
    requests="$(echo "$out" | awk '/requests in/ { print $1 }')"
    total="$(awk '$NF == "total" { print $(NF - 2) }' "$trace")"
    awk -v t="${total:-0}" -v r="${requests:-0}" 'BEGIN { printf "%.1f", (r > 0 ? t / r : 0) }'
    echo -n " "
    sort -k4 -n -r "$trace" | awk 'NF >= 5 && $NF != "total" && $NF != "syscall" && $1 ~ /^[0-9.]+$/ { printf "%s:%s ", $NF, $4 }' | cut -d' ' -f1-6
}

# The middle value (the mean of the two middle ones of an even count).
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
col() { cut -d' ' -f"$1" "$2" | median; }

# tms / haproxy in column $1 for each run, each tms run paired with the HAProxy run next to
# it (a pair shares the machine's state of the moment: drift or a busy neighbour touches
# both sides of a pair, not one proxy's median). $2: the runs set against HAProxy's (tms.runs,
# or bare.runs for the bare relay).
pair_ratios() {
    local runs="$dir/${2:-tms.runs}"
    paste -d' ' "$runs" "$dir/hap.runs" | awk -v c="$1" -v half="$(head -1 "$runs" | wc -w)" \
        '{ b = $(c + half); if (b > 0) print $c / b }'
}
# Their median, and their lowest and highest.
ratio() { pair_ratios "$1" "${2:-}" | median | awk '{ printf "%.2f", $1 }'; }
ratio_range() { pair_ratios "$1" "${2:-}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.2f-%.2f", a[1], a[NR] }'; }
# Runs both proxies RUNS times, interleaved, after a short warm-up each; leaves the runs in
# $dir/tms.runs and $dir/hap.runs.
runs_of() {
    local tms_port="$1" hap_port="$2" header="$3" delay="$4" bare="${5:-}"
    : > "$dir/tms.runs"; : > "$dir/hap.runs"; : > "$dir/direct.runs"; : > "$dir/bare.runs"
    measure "$tms_port" "$tms_pid" "$header" 1 "$delay" >/dev/null
    measure "$hap_port" "$haproxy_pid" "$header" 1 "$delay" >/dev/null
    # Which goes first alternates: neither proxy always runs right after the other's load.
    for run in $(seq "$runs"); do
        if [ $((run % 2)) = 1 ]; then
            measure "$tms_port" "$tms_pid" "$header" "$duration" "$delay" >> "$dir/tms.runs"
            measure "$hap_port" "$haproxy_pid" "$header" "$duration" "$delay" >> "$dir/hap.runs"
        else
            measure "$hap_port" "$haproxy_pid" "$header" "$duration" "$delay" >> "$dir/hap.runs"
            measure "$tms_port" "$tms_pid" "$header" "$duration" "$delay" >> "$dir/tms.runs"
        fi
        # At a fixed rate, the load side's own latency for reference: wrk to nginx, no proxy.
        if [ -n "$delay" ]; then measure "$BACKEND_PORT" "$nginx_pid" "$header" "$duration" "$delay" >> "$dir/direct.runs"; fi
        # And the floor: the bare relay at the same rate (tcp rows).
        if [ -n "$bare" ]; then measure "$BARE_PORT" "$bare_pid" "$header" "$duration" "$delay" >> "$dir/bare.runs"; fi
    done
}
highest() { cat "$dir/tms.runs" "$dir/hap.runs" | cut -d' ' -f"$1" | sort -n | tail -1; }

limit_text="uncapped"; [ "$PROXY_CPU_LIMIT" != none ] && limit_text="each proxy capped at $PROXY_CPU_LIMIT of each core by a CPU cgroup"
delay_ka="${RATE_DELAY_KA:-2}" delay_close="${RATE_DELAY_CLOSE:-10}"
echo "tms-proxy: $cores core(s) per proxy (taskset $PROXY_CPUS), nginx + wrk on $LOAD_CPUS; wrk -t$threads -c$connections, ${duration}s x $runs runs"
echo
echo "Capacity: as many requests as the proxy serves ($limit_text)"
printf "%-16s %10s %5s %7s   %10s %5s %7s   %6s %6s   %4s %6s %5s\n" "scenario" "tms req/s" "cpu%" "us/req" \
    "hap req/s" "cpu%" "us/req" "req" "cpu" "wrk%" "nginx%" "load%"
capacity_rows="" latency_rows=""
notes=()
for scenario in ${SCENARIOS:-tcp:keep-alive tcp:close http:keep-alive http:close}; do
    mode="${scenario%%:*}" connection="${scenario##*:}"
    header=""; delay="$delay_ka"
    [ "$connection" = close ] && { header="Connection: close"; delay="$delay_close"; }
    if [ "$mode" = tcp ]; then tms_port=$TMS_TCP_PORT; hap_port=$HAPROXY_TCP_PORT; else tms_port=$TMS_HTTP_PORT; hap_port=$HAPROXY_HTTP_PORT; fi
    cap on
    runs_of "$tms_port" "$hap_port" "$header" ""
    t_rps=$(col 1 "$dir/tms.runs"); t_cpu=$(col 3 "$dir/tms.runs"); t_us=$(col 4 "$dir/tms.runs")
    h_rps=$(col 1 "$dir/hap.runs"); h_cpu=$(col 3 "$dir/hap.runs"); h_us=$(col 4 "$dir/hap.runs")
    wrk_cpu=$(highest 5); nginx_cpu=$(highest 6); load=$(highest 7)
    printf "%-16s %10s %5s %7s   %10s %5s %7s   %6s %6s   %4s %6s %5s\n" "$mode $connection" "$t_rps" "$t_cpu" "$t_us" \
        "$h_rps" "$h_cpu" "$h_us" "$(ratio 1)" "$(ratio 4)" "$wrk_cpu" "$nginx_cpu" "$load"
    if [ "${load:-0}" -ge 95 ]; then
        notes+=("capacity, $mode $connection: the load CPUs ($LOAD_CPUS) were ${load} % busy (wrk ${wrk_cpu} %, nginx ${nginx_cpu} %): the load side, not the proxy, may be what limits this row")
    fi
    # The same scenario at a fixed rate both proxies sustain, uncapped: latency and CPU at
    # equal load.
    cap off
    bare=""; [ "$mode" = tcp ] && [ -n "$bare_pid" ] && bare=1
    runs_of "$tms_port" "$hap_port" "$header" "$delay" "$bare"
    t_rps=$(col 1 "$dir/tms.runs"); t_p99=$(col 2 "$dir/tms.runs"); t_us=$(col 4 "$dir/tms.runs")
    h_rps=$(col 1 "$dir/hap.runs"); h_p99=$(col 2 "$dir/hap.runs"); h_us=$(col 4 "$dir/hap.runs")
    b_p99="-" b_ratio="-" b_range="-"
    if [ -n "$bare" ]; then b_p99=$(col 2 "$dir/bare.runs"); b_ratio=$(ratio 2 bare.runs); b_range=$(ratio_range 2 bare.runs); fi
    latency_rows+="$(printf "%-16s %10s %8s %7s   %10s %8s %7s   %6s %9s %6s   %5s %7s   %7s %6s %9s" "$mode $connection" "$t_rps" "$t_p99" "$t_us" \
        "$h_rps" "$h_p99" "$h_us" "$(ratio 2)" "$(ratio_range 2)" "$(ratio 4)" "$(highest 7)" "$(col 2 "$dir/direct.runs")" \
        "$b_p99" "$b_ratio" "$b_range")"$'\n'
done
echo
echo "Latency at a fixed rate: each connection waits ${delay_ka} ms (keep-alive) or ${delay_close} ms (close) between requests; uncapped"
printf "%-16s %10s %8s %7s   %10s %8s %7s   %6s %9s %6s   %5s %7s   %7s %6s %9s\n" "scenario" "tms req/s" "p99 ms" "us/req" "hap req/s" "p99 ms" "us/req" "p99" "(range)" "cpu" "load%" "direct" "bare" "p99" "(range)"
printf "%s" "$latency_rows"
echo
echo "req = tms / haproxy requests per second (>= 1: at least HAProxy's throughput); p99 = tms / haproxy 99th-percentile"
echo "latency (<= 1: no worse), (range) its lowest and highest over the runs; cpu = tms / haproxy CPU time per request"
echo "(<= 1: no more). A ratio is the median over the runs of each tms run against the HAProxy run next to it; the other"
echo "figures are medians of each proxy's own runs. cpu% = the proxy process over the run; us/req = its CPU time per"
echo "request; wrk%, nginx% = their CPU over the run (highest of the runs); load% = how busy the load CPUs were (highest);"
echo "direct = the p99 (ms) of the same load sent to nginx without a proxy: how much of a row's latency is the load side's."
echo "bare = the p99 (ms) of bare-relay.c (one thread: epoll, recv, send, nothing else) on the proxies' CPUs at the same"
echo "rate, then its p99 / haproxy's and their range: the floor of any proxy here; a tms p99 ratio inside that range is"
echo "the host's run-to-run spread, not the proxy."
for note in "${notes[@]}"; do echo "note: $note"; done

if command -v strace >/dev/null && [ "${SYSCALLS:-1}" = 1 ]; then
    echo
    echo "system calls per request with a new connection per request (strace -c -f on every thread of the proxy; top calls: name:count)"
    printf "  %-12s %s\n" "tms tcp" "$(syscalls_per_request "$TMS_TCP_PORT" "$tms_pid")"
    printf "  %-12s %s\n" "haproxy tcp" "$(syscalls_per_request "$HAPROXY_TCP_PORT" "$haproxy_pid")"
    printf "  %-12s %s\n" "tms http" "$(syscalls_per_request "$TMS_HTTP_PORT" "$tms_pid")"
    printf "  %-12s %s\n" "haproxy http" "$(syscalls_per_request "$HAPROXY_HTTP_PORT" "$haproxy_pid")"
fi
