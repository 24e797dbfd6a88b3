#!/usr/bin/env bash
# DTLS benchmarks through the gateway, in one run: OpenSSL's own P-256 figures (openssl speed), the in-process
# library handshake rate, full DTLS 1.2 handshakes per second against a gateway process (ECDHE-ECDSA P-256 with a
# tenant certificate uploaded through REST, ECDHE-PSK with a PSK identity created through REST, and plain PSK from a
# light load generator whose clients cost little next to the gateway) with the gateway's CPU time per handshake,
# datagrams echoed through `forward` to a UDP echo backend, and the gateway's RSS per idle session. Everything runs on loopback and stops by itself; the throwaway PostgreSQL and all processes are removed
# on exit.
#   infra/bench-dtls.sh                                                   # the full run (10k idle sessions)
#   infra/bench-dtls.sh --seconds 2 --echo-seconds 2 --idle 500 --speed-seconds 1 --inproc-seconds 1   # a quick look
#   infra/bench-dtls.sh --baseline-ref 76f0cd5 ...   # also a gateway built from that commit, measured in the same run
# Options of this script: --baseline-ref REF (a commit, built in a temporary folder from `git archive`, whose gateway
# joins the same silo and is measured with the same harness, before this tree's gateway), --baseline-env NAME=VALUE
# (repeatable: environment for the baseline gateway only, e.g. `--baseline-ref HEAD --baseline-env
# DOTNET_gcServer=1` compares one setting of this tree in one run), --gateway-env NAME=VALUE (repeatable: the same for
# this tree's gateways only, so that the setting can be measured second as well as first), --no-cores (skips the
# one-core/two-core handshake comparison, which pins the gateway with taskset to core 0, then to cores 0-1, and the
# harness's clients to cores 2 and up, or on a two-core machine to core 1 in the one-core pass and nowhere in the
# two-core pass; phases handshakes and handshakes-light unless --phases is given), --no-bc (no
# BouncyCastle phases), --no-bc-idle (no idle BouncyCastle sessions, which run on a fresh gateway of this tree's build), --bc-idle-only (only
# the idle BouncyCastle sessions: with --baseline-ref on a fresh baseline gateway first, then on a fresh gateway of this
# tree, both on the same silo; e.g. `--bc-idle-only --baseline-ref main --idle 2000`), --library (after the
# gateways, the library's DTLS listener alone in a process of its own, set up as the gateway's shared port, with the
# same tenants, keys and clients: phases inproc and handshakes; e.g. `--library --no-bc --no-cores --phases
# inproc,handshakes`), --minimal (after those, bench/dtls-min-server: the smallest DTLS server over a UDP socket, in C,
# single-threaded, OpenSSL and the kernel only, built here with gcc; the same clients and figures, phases inproc and
# handshakes: the floor of a real socket server's CPU per handshake on this machine). BouncyCastle sessions: clients
# offering connection_id (the bench tenant enables connection IDs and heartbeats), handshakes per gateway
# CPU-second beside BouncyCastle's own in-process rate, and RSS per idle session; the harness checks each was served
# by the BouncyCastle engine (a connection ID was issued; the directory lists the engine). Every other argument is passed to
# the harness (bench/Platform.Gateway.Dtls.Bench/Program.cs lists them). With gdb installed, the gateway's native heap
# (glibc malloc_stats) is read before and with the idle sessions. --perf FILE (perf installed) records a CPU profile
# with call chains of this tree's gateway over its harness run (FILE), and of the baseline's over its run
# (FILE.baseline) (and with --library of the library's listener, FILE.library); the gateways then run with DOTNET_PerfMapEnabled=1 and W^X off, so JIT-compiled frames resolve
# through /tmp/perf-PID.map: `perf report -i FILE --no-children --sort dso,sym`.
set -euo pipefail

baseline_ref=''
baseline_env=()
gateway_env=()
cores=1
bc=1
bc_idle=1
bc_idle_only=0
perf_out=''
perf_pid=''
library=0
minimal=0
harness_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --baseline-ref) [ $# -ge 2 ] || { echo "--baseline-ref needs a commit" >&2; exit 2; }; baseline_ref=$2; shift 2 ;;
    --baseline-env) [[ $# -ge 2 && $2 == *=* ]] || { echo "--baseline-env needs NAME=VALUE" >&2; exit 2; }; baseline_env+=("$2"); shift 2 ;;
    --gateway-env) [[ $# -ge 2 && $2 == *=* ]] || { echo "--gateway-env needs NAME=VALUE" >&2; exit 2; }; gateway_env+=("$2"); shift 2 ;;
    --no-cores) cores=0; shift ;;
    --no-bc) bc=0; shift ;;
    --no-bc-idle) bc_idle=0; shift ;;
    --bc-idle-only) bc_idle_only=1; cores=0; shift ;;
    --perf) [ $# -ge 2 ] || { echo "--perf needs a file name" >&2; exit 2; }; perf_out=$(realpath -m "$2"); shift 2 ;;
    --library) library=1; shift ;;
    --minimal) minimal=1; shift ;;
    *) harness_args+=("$1"); shift ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

# shellcheck source=infra/lib/bench.sh
source "$root/infra/lib/bench.sh"

# The client processes hold one UDP socket per idle session; the harness puts at most 5000 in one process, so
# the usual 20000-file limit of containers is enough.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 8192 ] || die "open-file limit is $(ulimit -n); 8192 or more is needed"

if [ -n "$perf_out" ]; then
  command -v perf >/dev/null 2>&1 || { echo "--perf needs perf (linux-perf)" >&2; exit 2; }
  export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
fi

if [ -n "$baseline_ref" ]; then
  baseline_commit=$(git -C "$root" rev-parse --verify --short "$baseline_ref^{commit}") || { echo "unknown commit $baseline_ref" >&2; exit 2; }
fi

# The harness's phases per gateway (bc-idle runs on a fresh gateway of its own, below).
tree_phases=speed,inproc,handshakes,handshakes-light,echo,idle
baseline_phases=speed,handshakes,handshakes-light,echo,idle
if [ "$bc" = 1 ]; then
  tree_phases+=,bc-inproc,bc-handshakes
  baseline_phases+=,bc-handshakes
else
  bc_idle=0
fi

bench_init dtlsbench bench/Platform.Gateway.Dtls.Bench
if [ -n "$baseline_ref" ]; then
  # The baseline's sources only (no checkout, nothing written to the repository), built in the work folder.
  log "building the gateway of $baseline_commit (baseline)"
  mkdir "$work/baseline"
  git -C "$root" archive "$baseline_commit" | tar -x -C "$work/baseline"
  dotnet build "$work/baseline/gateway/Platform.Gateway" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of the baseline gateway failed"
fi
bench=(dotnet "$root/bench/Platform.Gateway.Dtls.Bench/bin/Release/net10.0/Platform.Gateway.Dtls.Bench.dll")
echo_port=$(pg_free_port)

bench_dtls_tenants "Bench DTLS" "$echo_port"

# start_gateway NAME DIR : a gateway built in DIR on fresh ports (sets NAME_pid and NAME_dtls_port; its output in
# $work/NAME.log); false when it exits before its WebSocket port answers (a port picked as free was taken meanwhile
# by another process on this machine), so it can be tried again.
start_gateway() {
  local name=$1 dir=$2 ws_port wss_port tls_port admin_port dtls_port pid extra_env=()
  case $name in baseline | bcbase) extra_env=("${baseline_env[@]}") ;; *) extra_env=("${gateway_env[@]}") ;; esac
  ws_port=$(pg_free_port); wss_port=$(pg_free_port); tls_port=$(pg_free_port); admin_port=$(pg_free_port)
  dtls_port=$(pg_free_port)
  mkdir -p "$work/$name-state"
  bench_start "$name" "$dir" env "${bench_egress_env[@]}" \
    "PLATFORM_SECRETS_DIR=$gateway_secrets" "${bench_gateway_tls[@]}" "Platform__SiloEndpoints__0=$cluster_endpoint" "Platform__NodeName=dtlsbench-$name" \
    "Platform__ListenAddress=127.0.0.1" "Platform__WsPort=$ws_port" "Platform__WssPort=$wss_port" \
    "Platform__TlsPort=$tls_port" "Platform__DtlsPort=$dtls_port" "Platform__AdminPort=$admin_port" \
    "Platform__StateDirectory=$work/$name-state" "${extra_env[@]}" dotnet Platform.Gateway.dll
  eval "pid=\$${name}_pid"
  eval "${name}_dtls_port=$dtls_port"
  # The WebSocket port answering means the gateway has its snapshot; the harness then waits for each DTLS tenant.
  for _ in $(seq 1 240); do
    kill -0 "$pid" 2>/dev/null || return 1
    if curl -s -o /dev/null "http://127.0.0.1:$ws_port/"; then return 0; fi
    sleep 0.5
  done
  tail -n 30 "$work/$name.log" >&2
  die "the gateway $name did not come up within 120 s"
}
# launch NAME DIR : start_gateway, three attempts.
launch() {
  for attempt in 1 2 3; do
    start_gateway "$1" "$2" && return 0
    tail -n 5 "$work/$1.log" >&2
    [ "$attempt" -lt 3 ] || die "the gateway $1 exited at start three times (see above)"
    log "the gateway $1 exited at start; trying other ports"
  done
}

gateways=(gateway)
gateway_dir="$root/gateway/Platform.Gateway/bin/Release/net10.0"
if [ "$bc_idle_only" = 1 ]; then
  gateways=()
else
  launch gateway "$gateway_dir"
  if [ -n "$baseline_ref" ]; then
    launch baseline "$work/baseline/gateway/Platform.Gateway/bin/Release/net10.0"
    gateways=(baseline gateway)
  fi
fi

bench_machine
{
  echo "openssl     $(openssl version)"
  echo "commit      $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- gateway bench 2>/dev/null || echo ' (with uncommitted changes)')"
  for name in "${gateways[@]}"; do
    eval "echo \"gateway     $name: pid \$${name}_pid, DTLS on 127.0.0.1:\$${name}_dtls_port\""
  done
  [ -z "$baseline_ref" ] || echo "baseline    $baseline_commit"
} >&2

# With dotnet-gcdump installed (dotnet tool install -g dotnet-gcdump), the gateway's managed heap is reported too.
gcdump=()
gcdump_tool=$(command -v dotnet-gcdump || true)
[ -n "$gcdump_tool" ] || [ ! -x "$HOME/.dotnet/tools/dotnet-gcdump" ] || gcdump_tool="$HOME/.dotnet/tools/dotnet-gcdump"
[ -z "$gcdump_tool" ] || gcdump=(--gcdump "$gcdump_tool")
# With dotnet-counters installed (dotnet tool install -g dotnet-counters), the GC's own view (committed memory,
# generation sizes, free space, collections, allocations) is sampled while the idle sessions are held (--idle-sample).
counters_tool=$(command -v dotnet-counters || true)
[ -n "$counters_tool" ] || [ ! -x "$HOME/.dotnet/tools/dotnet-counters" ] || counters_tool="$HOME/.dotnet/tools/dotnet-counters"
[ -z "$counters_tool" ] || gcdump+=(--counters "$counters_tool")

heap=()
command -v gdb >/dev/null 2>&1 || log "gdb not found: no native heap figures"

# harness NAME ARGS... : the harness against gateway NAME (prefixed by harness_prefix, e.g. a taskset, when set).
harness_prefix=()
harness() {
  local name=$1 pid port; shift
  eval "pid=\$${name}_pid; port=\$${name}_dtls_port"
  heap=()
  if command -v gdb >/dev/null 2>&1; then heap=(--gateway-log "$work/$name.log"); fi
  # The operator key reaches the harness through its environment (for the directory), not its command line.
  PLATFORM_BENCH_OPERATOR_KEY=$operator_key "${harness_prefix[@]}" "${bench[@]}" gateway --server "127.0.0.1:$port" --gateway-pid "$pid" --server-name "$server_name" \
    --psk "bench/dev1:$psk_key" --forward-psk "fwd/dev1:$fwd_key" --echo-port "$echo_port" --silo "$silo_url" "${gcdump[@]}" "${heap[@]}" "$@"
}

# profile_start NAME FILE / profile_stop: perf record on gateway NAME while the harness runs (with --perf only).
profile_start() {
  [ -n "$perf_out" ] || return 0
  local pid
  eval "pid=\$${1}_pid"
  perf record -F 999 -g -p "$pid" -o "$2" >"$work/perf-$1.log" 2>&1 &
  perf_pid=$!
}
profile_stop() {
  [ -n "$perf_pid" ] || return 0
  kill -TERM "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" || true
  perf_pid=''
}

if [ "$bc_idle_only" = 1 ]; then
  if [ -n "$baseline_ref" ]; then
    # The baseline's idle BouncyCastle sessions, on a fresh gateway of its own, before this tree's.
    launch bcbase "$work/baseline/gateway/Platform.Gateway/bin/Release/net10.0"
    echo "### baseline $baseline_commit, fresh gateway for idle BouncyCastle sessions"
    # shellcheck disable=SC2154 # set by launch
    harness bcbase --label "baseline $baseline_commit, fresh gateway" "${harness_args[@]}" --phases bc-idle
    kill -TERM "$bcbase_pid"
  fi
elif [ -n "$baseline_ref" ]; then
  log "baseline gateway ($baseline_commit)"
  echo "### baseline: $baseline_commit"
  profile_start baseline "$perf_out.baseline"
  harness baseline --label "baseline $baseline_commit" --phases "$baseline_phases" "${harness_args[@]}"
  profile_stop
  log "this tree's gateway"
  echo "### this tree: $(git -C "$root" rev-parse --short HEAD)"
  profile_start gateway "$perf_out"
  harness gateway --label "$(git -C "$root" rev-parse --short HEAD)" --phases "$tree_phases" "${harness_args[@]}"
  profile_stop
else
  profile_start gateway "$perf_out"
  harness gateway --phases "$tree_phases" "${harness_args[@]}"
  profile_stop
fi
[ -z "$perf_out" ] || log "profiles: $perf_out${baseline_ref:+ and $perf_out.baseline} (perf report -i FILE --no-children --sort dso,sym)"

# serve_and_measure NAME LABEL PORT DIR COMMAND... : starts COMMAND in DIR, a DTLS server of the bench's own on
# 127.0.0.1:PORT with the bench's certificate and keys that prints "listening on" once it serves; measures it with the
# harness as it measures a gateway (phases inproc and handshakes, so beside the library's in-process rate of the same
# pass) and stops it.
serve_and_measure() {
  local name=$1 label=$2 port=$3 dir=$4 pid; shift 4
  bench_start "$name" "$dir" "$@"
  eval "pid=\$${name}_pid; ${name}_dtls_port=$port"
  for _ in $(seq 1 100); do
    grep -q '^listening on' "$work/$name.log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "$label exited"; }
    sleep 0.1
  done
  grep -q '^listening on' "$work/$name.log" || die "$label did not start within 10 s"
  log "$label: pid $pid, DTLS on 127.0.0.1:$port"
  echo "### $label"
  profile_start "$name" "$perf_out.$name"
  harness "$name" --label "$label" "${harness_args[@]}" --phases inproc,handshakes
  profile_stop
  kill -TERM "$pid"
}
# Both read the certificate and its key from one file.
if [ "$library" = 1 ] || [ "$minimal" = 1 ]; then
  cat "$work/cert.pem" "$work/key.pem" >"$work/server.pem"
fi

# The library's DTLS listener alone, in a process of its own (the harness's serve-like-gateway mode): set up as the
# gateway's shared port (receive threads, a socket and a handshake worker per core, the gateway's thread-pool
# setting), the same tenants, certificate and keys, echoing, nothing published per session. Its handshakes per
# CPU-second split the gateway's CPU per handshake above OpenSSL's own into the sockets and threads, and the
# gateway's connection handling.
if [ "$library" = 1 ]; then
  port=$(pg_free_port)
  serve_and_measure library "the library's listener alone" "$port" "$root/bench/Platform.Gateway.Dtls.Bench/bin/Release/net10.0" \
    env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 \
    dotnet Platform.Gateway.Dtls.Bench.dll serve-like-gateway "$port" "$work/server.pem" "$server_name" bench "$psk_key" fwd "$fwd_key"
fi

# The smallest DTLS server over a UDP socket (bench/dtls-min-server, C, one thread, OpenSSL and the kernel only), with
# the same certificate, keys and clients: what a handshake costs a process that does nothing but serve it over real
# sockets on this machine.
if [ "$minimal" = 1 ]; then
  command -v gcc >/dev/null 2>&1 || apt_install gcc
  [ -f /usr/include/openssl/ssl.h ] || apt_install libssl-dev
  gcc -O2 -Wall -Wno-deprecated-declarations -o "$work/dtls-min-server" "$root/bench/dtls-min-server/dtls-min-server.c" -lssl -lcrypto \
    || die "bench/dtls-min-server did not build"
  port=$(pg_free_port)
  serve_and_measure minimal "the minimal C server" "$port" "$work" \
    "$work/dtls-min-server" "$port" "$work/server.pem" "bench/dev1:$psk_key" "fwd/dev1:$fwd_key"
fi

# Idle BouncyCastle sessions of this tree's build on a gateway of their own, fresh: measured on the gateway above,
# after its 10k OpenSSL sessions were closed, their RSS growth would hide in the heap those freed. Same silo.
if [ "$bc_idle" = 1 ]; then
  launch bcidle "$gateway_dir"
  echo "### this tree, fresh gateway for idle BouncyCastle sessions"
  # shellcheck disable=SC2154 # set by launch
  harness bcidle --label "$(git -C "$root" rev-parse --short HEAD), fresh gateway" "${harness_args[@]}" --phases bc-idle
  kill -TERM "$bcidle_pid"
fi

if [ "$cores" = 1 ] && [ "$(nproc)" -gt 1 ] && command -v taskset >/dev/null 2>&1; then
  # One DTLS port's handshake rate with the gateway's threads on one core (core 0), then on two (cores 0-1) (taskset -a:
  # every thread; threads started later inherit it). The handshake phases only (ECDHE, and plain PSK from the light
  # clients; a --phases given to the script applies here too), the same length as above. Where the clients run: with
  # three cores or more, on cores 2 and up in both passes, so the gateway has its cores to itself; with two, on core 1
  # in the one-core pass and unpinned (sharing both cores with the gateway) in the two-core pass.
  ncpu=$(nproc)
  if [ "$ncpu" -ge 3 ]; then
    clients_one=(taskset -c "2-$((ncpu - 1))"); clients_two=("${clients_one[@]}"); where_two="clients on cores 2-$((ncpu - 1))"
  else
    clients_one=(taskset -c 1); clients_two=(); where_two="clients unpinned"
  fi
  for name in "${gateways[@]}"; do
    eval "pid=\$${name}_pid"
    # shellcheck disable=SC2154 # set by eval
    taskset -a -p -c 0 "$pid" >/dev/null
    echo "### $name on 1 core (core 0), clients: ${clients_one[*]}"
    harness_prefix=("${clients_one[@]}")
    harness "$name" --label "$name, 1 core (taskset -c 0), clients: ${clients_one[*]}" --phases handshakes,handshakes-light "${harness_args[@]}"
    taskset -a -p -c 0-1 "$pid" >/dev/null
    echo "### $name on 2 cores (cores 0-1), $where_two"
    harness_prefix=("${clients_two[@]}")
    harness "$name" --label "$name, 2 cores (taskset -c 0-1), $where_two" --phases handshakes,handshakes-light "${harness_args[@]}"
    harness_prefix=()
    taskset -a -p -c "0-$((ncpu - 1))" "$pid" >/dev/null
  done
fi
echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
