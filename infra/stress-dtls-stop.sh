#!/usr/bin/env bash
# Stops gateways with DTLS sessions and handshakes live, again and again, and records how each one ended: a repeatable
# look for crashes on stop (a SIGABRT, a glibc heap message, a hang). Each iteration starts a fresh gateway process
# (this tree's Release build, or with --baseline-ref a commit built from `git archive`, alternating), opens idle
# sessions of both engines (OpenSSL: ECDHE-PSK clients; BouncyCastle: clients offering connection IDs) with the bench
# harness's `hold` mode, keeps full handshakes of both engines in flight (the harness's handshakes and bc-handshakes
# phases), waits a random moment, and sends SIGTERM or SIGINT (picked at random), as infra/lib/bench.sh and the service
# manager do. It then waits up to --stop-timeout seconds for the process to end.
#   infra/stress-dtls-stop.sh                                     # 30 iterations of this tree
#   infra/stress-dtls-stop.sh --iterations 40 --baseline-ref 12c438f --out /tmp/stop-stress
# Options: --iterations N (30), --baseline-ref REF (alternate with a gateway built from that commit; the build is
# cached in ${TMPDIR:-/tmp}/platform-stopstress-REF-COMMIT), --out DIR (results; kept after the run; default a new
# folder under ${TMPDIR:-/tmp}), --idle N (OpenSSL sessions held per iteration, 300), --bc-idle N (BouncyCastle
# sessions held, 100), --max-delay S (latest stop, seconds after the DTLS port answers, 15), --stop-timeout S (60),
# --malloc-check (MALLOC_CHECK_=3 on every gateway; without it every other iteration of each build gets it),
# --stop-silo (in every other pair of iterations of each build the silo gets SIGTERM at the same moment as the gateway, as the benchmarks'
# clean-up does, so the gateway's stop finds the silo going away; the silo is started again after it ends).
# Every gateway runs with `ulimit -c unlimited` and DOTNET_DbgEnableMiniDump=1 (DOTNET_DbgMiniDumpType=4, a full
# dump) into DIR; a core or dump found after a crash gets `thread apply all bt` from gdb (when installed) beside it.
# A gateway that does not end within the timeout gets the same backtrace of its live threads, then SIGKILL.
# DIR/summary.tsv has one line per iteration (build, signal, MALLOC_CHECK_, delay, sessions held, exit, seconds to
# stop, verdict); DIR/N-BUILD.log is that gateway's output. The script exits 1 when any iteration did not end cleanly.
set -euo pipefail

iterations=30
baseline_ref=''
out=''
idle=300
bc_idle=100
max_delay=15
stop_timeout=60
malloc_always=0
stop_silo=0
while [ $# -gt 0 ]; do
  case $1 in
    --iterations) iterations=$2; shift 2 ;;
    --baseline-ref) baseline_ref=$2; shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --bc-idle) bc_idle=$2; shift 2 ;;
    --max-delay) max_delay=$2; shift 2 ;;
    --stop-timeout) stop_timeout=$2; shift 2 ;;
    --malloc-check) malloc_always=1; shift ;;
    --stop-silo) stop_silo=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"
# shellcheck source=infra/lib/bench.sh
source "$root/infra/lib/bench.sh"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -c unlimited 2>/dev/null || log "core files cannot be enabled (ulimit -c): relying on the runtime's dumps"
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/platform-stopstress.XXXXXX")
mkdir -p "$out"
command -v gdb >/dev/null 2>&1 || log "gdb not found: crashes are recorded without backtraces"

if [ -n "$baseline_ref" ]; then
  baseline_commit=$(git -C "$root" rev-parse --verify --short "$baseline_ref^{commit}") || { echo "unknown commit $baseline_ref" >&2; exit 2; }
fi

bench_init stopstress bench/Platform.Gateway.Dtls.Bench
builds=(tree)
declare -A build_dir=([tree]="$root/gateway/Platform.Gateway/bin/Release/net10.0")
if [ -n "$baseline_ref" ]; then
  cache="${TMPDIR:-/tmp}/platform-stopstress-$baseline_commit"
  if [ ! -f "$cache/gateway/Platform.Gateway/bin/Release/net10.0/Platform.Gateway.dll" ]; then
    log "building the gateway of $baseline_commit (baseline) in $cache"
    rm -rf "$cache"; mkdir -p "$cache"
    git -C "$root" archive "$baseline_commit" | tar -x -C "$cache"
    dotnet build "$cache/gateway/Platform.Gateway" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of the baseline gateway failed"
  fi
  builds=(tree "base-$baseline_commit")
  build_dir["base-$baseline_commit"]="$cache/gateway/Platform.Gateway/bin/Release/net10.0"
fi
# The silo's environment, to start it again after an iteration stopped it (--stop-silo).
# shellcheck disable=SC2154 # set by bench_start in bench_init
mapfile -d '' -t silo_environ <"/proc/$silo_pid/environ"
silo_dir="$root/silo/Platform.Silo/bin/Release/net10.0"
bench=(dotnet "$root/bench/Platform.Gateway.Dtls.Bench/bin/Release/net10.0/Platform.Gateway.Dtls.Bench.dll")
echo_port=$(pg_free_port)

bench_dtls_tenants "Stop stress" "$echo_port"

# backtrace CORE-OR-PID FILE : every thread's stack from gdb (a core file, or a live process id).
backtrace() {
  command -v gdb >/dev/null 2>&1 || return 0
  if [ -f "$1" ]; then
    timeout 300 gdb -q -batch -ex 'thread apply all bt' "$(command -v dotnet)" "$1" >"$2" 2>&1 || true
  else
    timeout 300 gdb -q -batch -p "$1" -ex 'thread apply all bt' >"$2" 2>&1 || true
  fi
}

# clients_stop : ends the client processes of an iteration.
clients=()
clients_stop() {
  local pid
  for pid in "${clients[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${clients[@]}"; do wait "$pid" 2>/dev/null || true; done
  clients=()
}

# The hold clients' standard input: never ends while this script runs (it holds the FIFO open for writing).
hold_input="$work/hold-input"
mkfifo "$hold_input"
exec 7<>"$hold_input"

printf 'iteration\tbuild\tsignal\tmalloc_check\tsilo_stopped\tdelay_s\tsessions\texit\tstop_s\tverdict\n' >"$out/summary.tsv"
failures=0
for i in $(seq 1 "$iterations"); do
  build=${builds[$(((i - 1) % ${#builds[@]}))]}
  signal=$([ $((RANDOM % 2)) = 0 ] && echo TERM || echo INT)
  malloc_check=''
  if [ "$malloc_always" = 1 ] || [ $((((i - 1) / ${#builds[@]}) % 2)) = 1 ]; then malloc_check=3; fi
  silo_too=no
  # Every other pair of iterations of each build: so each build meets each MALLOC_CHECK_ and silo combination.
  if [ "$stop_silo" = 1 ] && [ $((((i - 1) / (2 * ${#builds[@]})) % 2)) = 1 ]; then silo_too=yes; fi
  delay=$(awk -v r="$RANDOM" -v m="$max_delay" 'BEGIN { printf "%.1f", 0.5 + (m - 0.5) * r / 32767 }')
  name="$i-$build"
  dir=${build_dir[$build]}
  started=0
  for attempt in 1 2 3; do
    ws_port=$(pg_free_port); dtls_port=$(pg_free_port); admin_port=$(pg_free_port)
    mkdir -p "$work/$name-state"
    rm -f "$dir"/core "$dir"/core.*
    (cd "$dir" && ulimit -c unlimited 2>/dev/null; exec env "${bench_egress_env[@]}" ${malloc_check:+MALLOC_CHECK_=$malloc_check} \
      DOTNET_DbgEnableMiniDump=1 DOTNET_DbgMiniDumpType=4 "DOTNET_DbgMiniDumpName=$out/$name.dump" \
      "PLATFORM_SECRETS_DIR=$gateway_secrets" "${bench_gateway_tls[@]}" "Platform__SiloEndpoints__0=$cluster_endpoint" \
      "Platform__NodeName=stopstress-$i" "Platform__ListenAddress=127.0.0.1" "Platform__WsPort=$ws_port" \
      "Platform__WssPort=$(pg_free_port)" "Platform__TlsPort=$(pg_free_port)" "Platform__DtlsPort=$dtls_port" \
      "Platform__AdminPort=$admin_port" "Platform__StateDirectory=$work/$name-state" dotnet Platform.Gateway.dll) >"$out/$name.log" 2>&1 &
    gw=$!
    pids+=("$gw")
    for _ in $(seq 1 240); do
      kill -0 "$gw" 2>/dev/null || break
      if curl -s -o /dev/null "http://127.0.0.1:$ws_port/"; then started=1; break; fi
      sleep 0.5
    done
    [ "$started" = 1 ] && break
    kill -KILL "$gw" 2>/dev/null || true
    wait "$gw" 2>/dev/null || true
    log "gateway $name did not come up (attempt $attempt); trying other ports"
  done
  [ "$started" = 1 ] || die "gateway $name did not start three times (see $out/$name.log)"

  # Idle sessions of both engines, held until their standard input ends (a FIFO this script keeps open); full
  # handshakes of both engines meanwhile.
  "${bench[@]}" hold --server "127.0.0.1:$dtls_port" --psk "bench/dev1:$psk_key" --count "$idle" \
    --concurrency 16 --source-group 20 <"$hold_input" >"$work/$name-hold.log" 2>&1 &
  clients+=("$!"); pids+=("$!")
  "${bench[@]}" hold --server "127.0.0.1:$dtls_port" --psk "bench/dev1:$psk_key" --count "$bc_idle" \
    --concurrency 8 --source-group 40 --engine bc --server-name "$server_name" --features ConnectionId <"$hold_input" >"$work/$name-bchold.log" 2>&1 &
  clients+=("$!"); pids+=("$!")
  PLATFORM_BENCH_OPERATOR_KEY=$operator_key "${bench[@]}" gateway --server "127.0.0.1:$dtls_port" --gateway-pid "$gw" \
    --server-name "$server_name" --psk "bench/dev1:$psk_key" --forward-psk "fwd/dev1:$fwd_key" --echo-port "$echo_port" \
    --phases handshakes,bc-handshakes --seconds 600 --concurrency 8 >"$work/$name-handshakes.log" 2>&1 &
  clients+=("$!"); pids+=("$!")

  sleep "$delay"
  # Sessions the hold clients report established (each prints "ready N ..." once all of its sessions are up).
  held=$({ grep -ho '^ready [0-9]*' "$work/$name-hold.log" "$work/$name-bchold.log" 2>/dev/null || true; } | awk '{ s += $2 } END { print s + 0 }')
  stop_start=$(date +%s.%N)
  kill -"$signal" "$gw"
  [ "$silo_too" = no ] || kill -TERM "$silo_pid"
  rc=''
  for _ in $(seq 1 $((stop_timeout * 10))); do
    if ! kill -0 "$gw" 2>/dev/null; then
      rc=0; wait "$gw" || rc=$?
      break
    fi
    sleep 0.1
  done
  stop_s=$(awk -v a="$stop_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [ -z "$rc" ]; then
    verdict=hung
    backtrace "$gw" "$out/$name.hung-bt.txt"
    kill -KILL "$gw" 2>/dev/null || true
    rc=killed; wait "$gw" 2>/dev/null || true
  elif [ "$rc" -gt 128 ]; then
    verdict="signal-$(kill -l $((rc - 128)))"
  elif [ "$rc" = 0 ]; then
    verdict=clean
  else
    verdict=exit-$rc
  fi
  if grep -qE 'free\(\)|corrupted|double free|malloc\(\)|Unhandled exception|Fatal error|SIGSEGV|Aborted' "$out/$name.log"; then
    verdict="$verdict+stderr"
  fi
  # An error logged while stopping (a hosted service's stop that threw, a fault on a loop) ends a run uncleanly too.
  if grep -qE '^(fail|crit): ' "$out/$name.log"; then
    verdict="$verdict+errors-logged"
  fi
  for core in "$dir"/core "$dir"/core.* "$out/$name.dump"; do
    [ -f "$core" ] || continue
    [ "$core" = "$out/$name.dump" ] || mv "$core" "$out/$name.core"
    backtrace "$out/$name.$([ "$core" = "$out/$name.dump" ] && echo dump || echo core)" "$out/$name.bt.txt"
  done
  clients_stop
  if [ "$silo_too" = yes ]; then
    # The silo ends (SIGKILL after the same timeout), then starts again on the same ports for the next iteration.
    for _ in $(seq 1 $((stop_timeout * 10))); do kill -0 "$silo_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$silo_pid" 2>/dev/null || true
    wait "$silo_pid" 2>/dev/null || true
    (cd "$silo_dir" && exec env -i "${silo_environ[@]}" dotnet Platform.Silo.dll) >>"$work/silo.log" 2>&1 &
    silo_pid=$!
    pids+=("$silo_pid")
    bench_wait_for "the silo" curl -fsS "$silo_url/healthz"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$build" "$signal" "${malloc_check:-off}" "$silo_too" "$delay" "$held" "$rc" "$stop_s" "$verdict" >>"$out/summary.tsv"
  log "iteration $i: $build SIG$signal after ${delay}s (${held} sessions held, MALLOC_CHECK_=${malloc_check:-off}, silo stopped too: $silo_too): $verdict in ${stop_s}s"
  if [ "$verdict" != clean ]; then
    failures=$((failures + 1))
    tail -n 40 "$out/$name.log" >"$out/$name.stderr-tail.txt"
  else
    rm -f "$out/$name.log"
  fi
  rm -rf "$work/$name-state"
done

log "results in $out/summary.tsv"
column -t -s $'\t' "$out/summary.tsv" >&2 || cat "$out/summary.tsv" >&2
[ "$failures" = 0 ] || { log "$failures of $iterations iterations did not end cleanly"; exit 1; }
