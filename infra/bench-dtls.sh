#!/usr/bin/env bash
# DTLS benchmarks through the gateway, in one run: OpenSSL's own P-256 figures (openssl speed), the in-process
# library handshake rate, full DTLS 1.2 handshakes per second against a gateway process (ECDHE-ECDSA P-256 with a
# tenant certificate uploaded through REST, ECDHE-PSK with a PSK identity created through REST) with the gateway's
# CPU time per handshake, datagrams echoed through `forward` to a UDP echo backend, and the gateway's RSS per idle
# session. Everything runs on loopback and stops by itself; the throwaway PostgreSQL and all processes are removed
# on exit.
#   infra/bench-dtls.sh                                                   # the full run (10k idle sessions)
#   infra/bench-dtls.sh --seconds 2 --echo-seconds 2 --idle 500 --speed-seconds 1 --inproc-seconds 1   # a quick look
# Arguments are passed to the harness (bench/Platform.Gateway.Dtls.Bench/Program.cs lists them).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
command -v openssl >/dev/null 2>&1 || apt_install openssl
command -v curl >/dev/null 2>&1 || apt_install curl
pg_ensure_installed
# The client processes hold one UDP socket per idle session; the harness puts at most 5000 in one process, so
# the usual 20000-file limit of containers is enough.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 8192 ] || die "open-file limit is $(ulimit -n); 8192 or more is needed"

work=$(mktemp -d "${TMPDIR:-/tmp}/platform-dtlsbench.XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
  local rc=$?
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  pg_stop "$work/pg"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in silo/Platform.Silo gateway/Platform.Gateway bench/Platform.Gateway.Dtls.Bench; do
  log "building $project"
  dotnet build "$project" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of $project failed"
done
bench=(dotnet "$root/bench/Platform.Gateway.Dtls.Bench/bin/Release/net10.0/Platform.Gateway.Dtls.Bench.dll")

log "starting PostgreSQL"
pg_init "$work/pg"
pg_port=$(pg_free_port)
pg_start "$work/pg" "$pg_port" "$work/postgres.log"
"$(pg_bin_dir)/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE platform' >/dev/null

operator_key="op_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cluster_secret="cs_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
silo_port=$(pg_free_port); echo_port=$(pg_free_port)
silo_url="http://127.0.0.1:$silo_port"

# start NAME DIR COMMAND... : a background process with its output in the work folder.
start() {
  local name=$1 dir=$2; shift 2
  (cd "$dir" && exec "$@") >"$work/$name.log" 2>&1 &
  pids+=("$!")
  eval "${name}_pid=$!"
}
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 240); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  tail -n 30 "$work"/*.log >&2 || true
  die "$what did not come up within 120 s"
}

start silo "$root/silo/Platform.Silo/bin/Release/net10.0" env \
  "Platform__ConnectionString=Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=platform" \
  "Platform__MasterKey=$(head -c 32 /dev/urandom | base64 -w0)" "Platform__OperatorKey=$operator_key" \
  "Platform__ClusterSecret=$cluster_secret" "Urls=$silo_url" dotnet Platform.Silo.dll
wait_for "the silo" curl -fsS "$silo_url/healthz"

auth=(-H "Authorization: Bearer $operator_key" -H 'Content-Type: application/json')
rest() { # rest METHOD PATH BODY : fails loudly on any status outside 2xx
  local out status
  out=$(mktemp -p "$work")
  status=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" "${auth[@]}" --data-binary "$3" "$silo_url$2")
  [[ "$status" == 2* ]] || { cat "$out" >&2; die "$1 $2 answered $status"; }
  cat "$out"
}
# 100000 sessions allowed, no idle timeout (idle sessions stay until the run ends).
quiet='"limits":{"maxConnections":100000},"timeouts":{"idleTimeoutSeconds":0}'
rest POST /v1/tenants "{\"slug\":\"bench\",\"displayName\":\"Bench DTLS echo\",\"config\":{$quiet}}" >/dev/null
rest POST /v1/tenants "{\"slug\":\"fwd\",\"displayName\":\"Bench DTLS forward\",\"config\":{$quiet,\"delivery\":{\"mode\":\"forward\",\"forward\":{\"host\":\"127.0.0.1\",\"port\":$echo_port,\"protocol\":\"udp\"}}}}" >/dev/null

log "certificate for bench.bench.test (ECDSA P-256), PSK identities bench/dev1 and fwd/dev1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 -subj /CN=bench.bench.test \
  -addext subjectAltName=DNS:bench.bench.test -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
pem=$(cat "$work/cert.pem" "$work/key.pem" | sed ':a;N;$!ba;s/\n/\\n/g')
rest POST /v1/tenants/bench/certificates "{\"pem\":\"$pem\"}" >/dev/null
psk_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
fwd_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
rest POST /v1/tenants/bench/psk-identities "{\"identity\":\"dev1\",\"key\":\"$psk_key\"}" >/dev/null
rest POST /v1/tenants/fwd/psk-identities "{\"identity\":\"dev1\",\"key\":\"$fwd_key\"}" >/dev/null

gateway_pid='' # set by start
# start_gateway : the gateway on fresh ports; false when it exits before its WebSocket port answers (a port
# picked as free was taken meanwhile by another process on this machine), so it can be tried again.
start_gateway() {
  local ws_port wss_port tls_port internal_port
  ws_port=$(pg_free_port); wss_port=$(pg_free_port); tls_port=$(pg_free_port); internal_port=$(pg_free_port)
  dtls_port=$(pg_free_port)
  start gateway "$root/gateway/Platform.Gateway/bin/Release/net10.0" env \
    "Platform__SiloUrl=$silo_url" "Platform__ClusterSecret=$cluster_secret" "Platform__NodeName=dtlsbench" \
    "Platform__ListenAddress=127.0.0.1" "Platform__WsPort=$ws_port" "Platform__WssPort=$wss_port" \
    "Platform__TlsPort=$tls_port" "Platform__DtlsPort=$dtls_port" "Platform__InternalPort=$internal_port" \
    "Platform__StateDirectory=$work/gateway" dotnet Platform.Gateway.dll
  # The WebSocket port answering means the gateway has its snapshot; the harness then waits for each DTLS tenant.
  for _ in $(seq 1 240); do
    kill -0 "$gateway_pid" 2>/dev/null || return 1
    if curl -s -o /dev/null "http://127.0.0.1:$ws_port/"; then return 0; fi
    sleep 0.5
  done
  tail -n 30 "$work/gateway.log" >&2
  die "the gateway did not come up within 120 s"
}
for attempt in 1 2 3; do
  start_gateway && break
  tail -n 5 "$work/gateway.log" >&2
  [ "$attempt" -lt 3 ] || die "the gateway exited at start three times (see above)"
  log "the gateway exited at start; trying other ports"
done

{
  echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus        $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
  echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at start"
  echo "runtime     $(dotnet --list-runtimes | grep NETCore | tail -1)"
  echo "openssl     $(openssl version)"
  echo "gateway     pid $gateway_pid, DTLS on 127.0.0.1:$dtls_port"
} >&2

# With dotnet-gcdump installed (dotnet tool install -g dotnet-gcdump), the gateway's managed heap is reported too.
gcdump=()
gcdump_tool=$(command -v dotnet-gcdump || true)
[ -n "$gcdump_tool" ] || [ ! -x "$HOME/.dotnet/tools/dotnet-gcdump" ] || gcdump_tool="$HOME/.dotnet/tools/dotnet-gcdump"
[ -z "$gcdump_tool" ] || gcdump=(--gcdump "$gcdump_tool")

"${bench[@]}" gateway --server "127.0.0.1:$dtls_port" --gateway-pid "$gateway_pid" --server-name bench.bench.test \
  --psk "bench/dev1:$psk_key" --forward-psk "fwd/dev1:$fwd_key" --echo-port "$echo_port" "${gcdump[@]}" "$@"
echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
