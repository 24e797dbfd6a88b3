#!/usr/bin/env bash
# End-to-end test of infra/run.sh: with a private data directory and free ports it starts the platform with
# --gateways 2 and checks that both gateways register with the silo and echo over ws; kills the silo (SIGKILL)
# and checks that run.sh reports the exit, keeps both gateways running and that they still echo (fail-static,
# from their snapshot); starts the silo again with `infra/run.sh --restart silo`; stops the run with SIGTERM and
# checks that every process and PostgreSQL have stopped. Everything it started is stopped on exit, also on failure.
#
#   infra/tests/run-sh.sh [--no-build]
#
# --no-build is passed on to infra/run.sh: infra/test.sh runs this after the .NET tests, on the Release build it made.
#
# Needs what infra/run.sh needs, plus Node.js with tests/clients/node_modules (npm ci there; done when missing).
set -euo pipefail

run_args=(--gateways 2)
case ${1:-} in
  --no-build) run_args+=(--no-build) ;;
  "") ;;
  *) printf 'usage: infra/tests/run-sh.sh [--no-build]\n' >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
pass() { printf 'ok: %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/platform-run-sh.XXXXXX")
chmod 755 "$work"
data="$work/data"
out="$work/run.out"
run_pid=""

# port_free PORT : nothing listens on PORT, TCP or UDP, on any address.
port_free() {
  [ -z "$(ss -Htuln "sport = :$1" 2>/dev/null)" ]
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid"
    for _ in $(seq 1 900); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever run.sh left behind (it was killed itself, or a test step failed half way) is stopped here.
  local f pid
  for f in "$data"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
  done
  if [ -d "$data/postgres" ]; then
    pg_stop "$(readlink -f "$data/postgres")"
  fi
  if [ "$rc" -ne 0 ] && [ -f "$out" ]; then
    printf -- '--- infra/run.sh output (last 60 lines) ---\n' >&2
    tail -n 60 "$out" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v node >/dev/null 2>&1 || fail "node not found (infra/test.sh installs it)"
command -v ss >/dev/null 2>&1 || fail "ss not found (Debian package iproute2)"
if [ ! -d tests/clients/node_modules/ws ]; then
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/clients failed"
fi

# Seventeen ports from one base: below the ephemeral range (32768+) that port-0 listeners and outgoing connections
# take ports from, and above the dedicated tenant range 20000-20999 that run.sh keeps free.
base=""
for _ in $(seq 1 40); do
  candidate=$((21000 + (RANDOM % 580) * 20))
  all_free=1
  for offset in $(seq 0 16); do
    port_free $((candidate + offset)) || { all_free=0; break; }
  done
  if [ "$all_free" -eq 1 ]; then base=$candidate; break; fi
done
[ -n "$base" ] || fail "found no 17 free ports in 21000-32599"

export PLATFORM_DATA_DIR="$data"
export PLATFORM_PG_PORT=$base PLATFORM_SILO_PORT=$((base + 1)) PLATFORM_PORTAL_PORT=$((base + 2))
export PLATFORM_GATEWAY_WS_PORT=$((base + 3)) PLATFORM_GATEWAY_WSS_PORT=$((base + 5))
export PLATFORM_GATEWAY_TLS_PORT=$((base + 7)) PLATFORM_GATEWAY_DTLS_PORT=$((base + 9))
export PLATFORM_GATEWAY_ADMIN_PORT=$((base + 11))
export PLATFORM_CLUSTER_SILO_PORT=$((base + 13)) PLATFORM_CLUSTER_GATEWAY_PORT=$((base + 14))
export PLATFORM_SILO_ADMIN_PORT=$((base + 15)) PLATFORM_PORTAL_ADMIN_PORT=$((base + 16))
unset PLATFORM_LISTEN_ADDRESS
silo_url="http://127.0.0.1:$PLATFORM_SILO_PORT"
ws1="ws://127.0.0.1:$PLATFORM_GATEWAY_WS_PORT/t/demo/"
ws2="ws://127.0.0.1:$((PLATFORM_GATEWAY_WS_PORT + 1))/t/demo/"
log "infra/run.sh ${run_args[*]} with data in $data and ports $base-$((base + 16))"

# Its own session: the test stops it with SIGTERM, as a terminal's Ctrl-C would with SIGINT.
setsid infra/run.sh "${run_args[@]}" >"$out" 2>&1 </dev/null &
run_pid=$!

# wait_for SECONDS DESCRIPTION COMMAND... : polls COMMAND every 0.5 s; fails when run.sh has ended or time is up.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local _
  for _ in $(seq 1 $((seconds * 2))); do
    if "$@"; then return 0; fi
    kill -0 "$run_pid" 2>/dev/null || fail "infra/run.sh ended while waiting for $what"
    sleep 0.5
  done
  fail "no $what within $seconds s"
}
# With the Release build infra/test.sh made, start-up takes well under a minute; a cold build takes longer.
wait_for 600 "'Platform is running'" grep -q '^Platform is running' "$out"
pass "infra/run.sh started"

operator_key=$(<"$data/secrets/silo/Platform__OperatorKey")
silo_get() { curl -sS --max-time 10 -H @<(printf 'Authorization: Bearer %s\n' "$operator_key") "$silo_url$1"; }

# gateways_up PATTERN... : for each "prefix:admin port", GET /v1/gateways (a page: {items, ...}) lists a gateway with
# status "up" whose id starts with the prefix, and that gateway's admin listener says it is connected and registered
# under that id.
gateways_up() {
  local listed; listed=$(silo_get /v1/gateways) || return 1
  local w prefix port health
  for w in "$@"; do
    prefix=${w%%:*} port=${w#*:}
    health=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/healthz") || return 1
    node -e '
      const [prefix, listedJson, healthJson] = process.argv.slice(1);
      const list = JSON.parse(listedJson).items, health = JSON.parse(healthJson);
      const ok = health.clusterConnected && health.registered && health.nodeId.startsWith(prefix + "-")
        && list.some((g) => g.status === "up" && g.id === health.nodeId);
      process.exit(ok ? 0 : 1);' "$prefix" "$listed" "$health" || return 1
  done
}
up1="gw1:$PLATFORM_GATEWAY_ADMIN_PORT"
up2="gw2:$((PLATFORM_GATEWAY_ADMIN_PORT + 1))"
wait_for 30 "two registered gateways in /v1/gateways" gateways_up "$up1" "$up2"
pass "gateway-1 and gateway-2 registered with the silo"
grep -q "gateway-2 *node gw2-" "$out" || fail "run.sh did not print gateway-2's endpoints"
grep -qF "$ws2" "$out" || fail "run.sh did not print $ws2"

echo_ok() { node tests/clients/ws-echo.mjs "$1" >/dev/null; }
echo_ok "$ws1" || fail "no ws echo through gateway-1 ($ws1)"
echo_ok "$ws2" || fail "no ws echo through gateway-2 ($ws2)"
pass "ws echo through both gateways"

gateway_pids=("$(<"$data/run/gateway-1.pid")" "$(<"$data/run/gateway-2.pid")")
silo_pid=$(<"$data/run/silo.pid")
kill -KILL "$silo_pid"
wait_for 30 "report of the silo's exit" grep -q "silo (pid $silo_pid) exited, killed by SIGKILL" "$out"
pass "run.sh reported the silo's exit"
! curl -fsS --max-time 5 -o /dev/null "$silo_url/healthz" 2>/dev/null || fail "the silo still answers after SIGKILL"
# A moment for anything run.sh might do in reaction (it used to stop everything here).
sleep 2
kill -0 "$run_pid" 2>/dev/null || fail "infra/run.sh ended when the silo exited"
for pid in "${gateway_pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || fail "gateway pid $pid stopped when the silo exited"
done
echo_ok "$ws1" || fail "gateway-1 does not echo while the silo is down"
echo_ok "$ws2" || fail "gateway-2 does not echo while the silo is down"
pass "both gateways keep running and echo from their snapshot while the silo is down"

PLATFORM_DATA_DIR="$data" infra/run.sh --restart silo >>"$work/restart.out" 2>&1 \
  || { cat "$work/restart.out" >&2; fail "infra/run.sh --restart silo failed"; }
curl -fsS --max-time 10 -o /dev/null "$silo_url/healthz" || fail "the silo does not answer after --restart silo"
wait_for 60 "both gateways up again after the silo's restart" gateways_up "$up1" "$up2"
pass "--restart silo started the silo again and both gateways report to it"

app_pids=()
for f in "$data"/run/*.pid; do
  [ "$(basename "$f")" = run.pid ] || app_pids+=("$(<"$f")")
done
[ "${#app_pids[@]}" -eq 4 ] || fail "expected 4 app pid files (silo, 2 gateways, portal), found ${#app_pids[@]}"
kill -TERM "$run_pid"
for _ in $(seq 1 1200); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$run_pid" 2>/dev/null && fail "infra/run.sh did not stop within 120 s of SIGTERM"
run_pid=""
for pid in "${app_pids[@]}"; do
  ! kill -0 "$pid" 2>/dev/null || fail "pid $pid still runs after infra/run.sh stopped"
done
! pg_is_running "$(readlink -f "$data/postgres")" || fail "PostgreSQL still runs after infra/run.sh stopped"
[ ! -e "$data/run/run.pid" ] || fail "run/run.pid is left after infra/run.sh stopped"
pass "SIGTERM stopped every process and PostgreSQL"
printf 'infra/tests/run-sh.sh: passed\n'
