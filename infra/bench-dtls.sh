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

# shellcheck source=infra/lib/bench.sh
source "$root/infra/lib/bench.sh"

# The client processes hold one UDP socket per idle session; the harness puts at most 5000 in one process, so
# the usual 20000-file limit of containers is enough.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 8192 ] || die "open-file limit is $(ulimit -n); 8192 or more is needed"

bench_init dtlsbench bench/Platform.Gateway.Dtls.Bench
bench=(dotnet "$root/bench/Platform.Gateway.Dtls.Bench/bin/Release/net10.0/Platform.Gateway.Dtls.Bench.dll")
echo_port=$(pg_free_port)

# 100000 sessions allowed, no idle timeout (idle sessions stay until the run ends).
quiet='"limits":{"maxConnections":100000},"timeouts":{"idleTimeoutSeconds":0}'
# Above the default plan (1000 connections, 1000 new ones per second): the operator's plan allows the full load.
plan='"plan":{"maxConnections":100000,"connectionsPerSecond":100000}'
bench_rest POST /v1/tenants "{\"slug\":\"bench\",\"displayName\":\"Bench DTLS echo\",$plan,\"config\":{$quiet}}" >/dev/null
bench_rest POST /v1/tenants "{\"slug\":\"fwd\",\"displayName\":\"Bench DTLS forward\",$plan,\"config\":{$quiet,\"delivery\":{\"mode\":\"forward\",\"forward\":{\"host\":\"127.0.0.1\",\"port\":$echo_port,\"protocol\":\"udp\"}}}}" >/dev/null

bench_certificate bench bench.bench.test
log "PSK identities bench/dev1 and fwd/dev1"
psk_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
fwd_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
bench_rest POST /v1/tenants/bench/psk-identities "{\"identity\":\"dev1\",\"key\":\"$psk_key\"}" >/dev/null
bench_rest POST /v1/tenants/fwd/psk-identities "{\"identity\":\"dev1\",\"key\":\"$fwd_key\"}" >/dev/null

gateway_pid='' # set by start
# start_gateway : the gateway on fresh ports; false when it exits before its WebSocket port answers (a port
# picked as free was taken meanwhile by another process on this machine), so it can be tried again.
start_gateway() {
  local ws_port wss_port tls_port admin_port
  ws_port=$(pg_free_port); wss_port=$(pg_free_port); tls_port=$(pg_free_port); admin_port=$(pg_free_port)
  dtls_port=$(pg_free_port)
  bench_start gateway "$root/gateway/Platform.Gateway/bin/Release/net10.0" env "${bench_egress_env[@]}" \
    "PLATFORM_SECRETS_DIR=$gateway_secrets" "${bench_gateway_tls[@]}" "Platform__SiloEndpoints__0=$cluster_endpoint" "Platform__NodeName=dtlsbench" \
    "Platform__ListenAddress=127.0.0.1" "Platform__WsPort=$ws_port" "Platform__WssPort=$wss_port" \
    "Platform__TlsPort=$tls_port" "Platform__DtlsPort=$dtls_port" "Platform__AdminPort=$admin_port" \
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

bench_machine
{
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
