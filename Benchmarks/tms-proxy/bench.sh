#!/usr/bin/env bash
# The traffic manager against HAProxy, side by side, on loopback.
#
#   Benchmarks/tms-proxy/bench.sh CVMCTL
#
# One nginx backend (one worker), then `cvmctl tms run` and HAProxy in front of it with the
# same core count, each driven by the same wrk load: tcp and http modes, keep-alive and a new
# connection per request (Connection: close). Prints requests/s and p99 latency of both and
# the ratios (median of RUNS runs, runs of the two proxies interleaved).
#
# Environment: CORES (proxy cores, default 1), DURATION (seconds per run, default 5),
# RUNS (default 3), CONNECTIONS (wrk -c, default 50), THREADS (wrk -t, default 1),
# SCENARIOS (default "tcp:keep-alive tcp:close http:keep-alive http:close"),
# PROXY_CPUS / LOAD_CPUS (taskset lists: the proxies get PROXY_CPUS, nginx and wrk
# LOAD_CPUS; default on a 2-core machine: 1 and 0, so proxy and load never compete).
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

BACKEND_PORT=18480 TMS_TCP_PORT=18481 TMS_HTTP_PORT=18482 HAPROXY_TCP_PORT=18483 HAPROXY_HTTP_PORT=18484 ADMIN_PORT=18490
dir="$(mktemp -d /tmp/tms-proxy-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
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
taskset -c "$LOAD_CPUS" nginx -c "$dir/nginx.conf" & pids+=($!)
taskset -c "$PROXY_CPUS" "$cvmctl" tms run --config "$dir/tms.yaml" -q > "$dir/tms.log" 2>&1 & tms_pid=$!; pids+=($tms_pid)
taskset -c "$PROXY_CPUS" haproxy -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 & haproxy_pid=$!; pids+=($haproxy_pid)
for port in $BACKEND_PORT $TMS_TCP_PORT $TMS_HTTP_PORT $HAPROXY_TCP_PORT $HAPROXY_HTTP_PORT; do
    wait_port "$port" || { cat "$dir/tms.log" "$dir/haproxy.log" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One wrk run: prints "requests/s p99_ms cpu%" (cpu%: the proxy process over the run).
measure() {
    local port="$1" pid="$2" header="$3" seconds="${4:-$duration}" out before after
    before="$(cpu_ticks "$pid")"
    if [ -n "$header" ]; then
        out="$(taskset -c "$LOAD_CPUS" wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -H "$header" "http://127.0.0.1:$port/")"
    else
        out="$(taskset -c "$LOAD_CPUS" wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$port/")"
    fi
    after="$(cpu_ticks "$pid")"
    if echo "$out" | grep -qE "Non-2xx|Socket errors: connect [1-9]|read [1-9][0-9]{2,}"; then
        echo "$out" | grep -E "Non-2xx|Socket errors" >&2
    fi
    echo "$out" | awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" -v d="$seconds" '
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
                      p99 = (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
        END { printf "%.0f %.2f %.0f\n", rps, p99, ticks / hz / d * 100 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "tms-proxy: $cores core(s) per proxy (taskset $PROXY_CPUS), nginx + wrk on $LOAD_CPUS; wrk -t$threads -c$connections, ${duration}s x $runs runs"
printf "%-22s %12s %9s %6s   %12s %9s %6s   %9s %9s\n" "scenario" "tms req/s" "p99 ms" "cpu%" "haproxy req/s" "p99 ms" "cpu%" "req ratio" "p99 ratio"
for scenario in ${SCENARIOS:-tcp:keep-alive tcp:close http:keep-alive http:close}; do
        mode="${scenario%%:*}" connection="${scenario##*:}"
        header=""; [ "$connection" = close ] && header="Connection: close"
        if [ "$mode" = tcp ]; then tms_port=$TMS_TCP_PORT; hap_port=$HAPROXY_TCP_PORT; else tms_port=$TMS_HTTP_PORT; hap_port=$HAPROXY_HTTP_PORT; fi
        : > "$dir/tms.runs"; : > "$dir/hap.runs"
        # A short warm-up each, then the runs, interleaved.
        measure "$tms_port" "$tms_pid" "$header" 1 >/dev/null
        measure "$hap_port" "$haproxy_pid" "$header" 1 >/dev/null
        for _ in $(seq "$runs"); do
            measure "$tms_port" "$tms_pid" "$header" >> "$dir/tms.runs"
            measure "$hap_port" "$haproxy_pid" "$header" >> "$dir/hap.runs"
        done
        t_rps=$(cut -d' ' -f1 "$dir/tms.runs" | median); t_p99=$(cut -d' ' -f2 "$dir/tms.runs" | median); t_cpu=$(cut -d' ' -f3 "$dir/tms.runs" | median)
        h_rps=$(cut -d' ' -f1 "$dir/hap.runs" | median); h_p99=$(cut -d' ' -f2 "$dir/hap.runs" | median); h_cpu=$(cut -d' ' -f3 "$dir/hap.runs" | median)
        printf "%-22s %12s %9s %6s   %12s %9s %6s   %9s %9s\n" "$mode $connection" "$t_rps" "$t_p99" "$t_cpu" "$h_rps" "$h_p99" "$h_cpu" \
            "$(awk -v a="$t_rps" -v b="$h_rps" 'BEGIN { printf "%.2f", a / b }')" \
            "$(awk -v a="$t_p99" -v b="$h_p99" 'BEGIN { printf "%.2f", a / b }')"
done
echo "req ratio = tms / haproxy requests per second (>= 1: at least HAProxy's throughput);"
echo "p99 ratio = tms / haproxy 99th-percentile latency (<= 1: no worse); cpu% = the proxy process over the run."
