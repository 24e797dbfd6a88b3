#!/usr/bin/env bash
# Gateway benchmarks: idle WebSocket connections held (server RSS per connection), WebSocket upgrades per
# second, and echo round trips per second through `forward` mode and through `webhook` mode (each message POSTed
# to a local webhook whose answer carries it back), each beside its baseline in the same run:
# a bare Kestrel WebSocket echo, and nginx proxying WebSocket to that echo. Everything runs on loopback and
# stops by itself; the throwaway PostgreSQL and all processes are removed on exit.
#   infra/bench-gateway.sh                          # the full run (10k and 50k idle connections)
#   infra/bench-gateway.sh --idle "500:gw-ws,gw-ws-x4" --duration 3   # a quick look
# Arguments are passed to the harness (bench/Platform.Gateway.Bench/Program.cs lists them).
# PLATFORM_BENCH_SERVERS (default 4): gateway and baseline processes that share the 50k connections.
# PLATFORM_BENCH_GATEWAY_ENV: extra VAR=value words for the gateway processes (runtime settings to compare).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

# shellcheck source=infra/lib/bench.sh
source "$root/infra/lib/bench.sh"

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx-light || apt_install nginx
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
# Every process may open as many files as the hard limit allows. Where that limit is low (20000 in some
# containers, which cannot raise it without CAP_SYS_RESOURCE), 50k connections are spread over several
# gateway and baseline processes and several client processes of at most 15000 connections each.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 16384 ] || die "open-file limit is $(ulimit -n); 16384 or more is needed"
servers=${PLATFORM_BENCH_SERVERS:-4}

bench_init gwbench bench/Platform.Gateway.Bench
bench=(dotnet "$root/bench/Platform.Gateway.Bench/bin/Release/net10.0/Platform.Gateway.Bench.dll")
echo_port=$(pg_free_port); nginx_port=$(pg_free_port); hook_port=$(pg_free_port)

quiet='"limits":{"maxConnections":100000},"webSocket":{"pingIntervalSeconds":0}'
# Above the default plan (1000 connections, 1000 new ones per second): the operator's plan allows the full load.
plan='"plan":{"maxConnections":100000,"connectionsPerSecond":100000}'
bench_rest POST /v1/tenants "{\"slug\":\"bench\",\"displayName\":\"Bench echo\",$plan,\"config\":{$quiet}}" >/dev/null
bench_rest POST /v1/tenants "{\"slug\":\"fwd\",\"displayName\":\"Bench forward\",$plan,\"config\":{$quiet,\"delivery\":{\"mode\":\"forward\",\"forward\":{\"host\":\"127.0.0.1\",\"port\":$echo_port}}}}" >/dev/null

hook_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
bench_rest POST /v1/tenants "{\"slug\":\"hook\",\"displayName\":\"Bench webhook\",$plan,\"config\":{$quiet,\"delivery\":{\"mode\":\"webhook\",\"webhook\":{\"url\":\"http://127.0.0.1:$hook_port/hook\",\"secret\":\"$hook_secret\"}}}}" >/dev/null

bench_certificate bench bench.bench.test
openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -out "$work/cert.pfx" -passout pass: 2>/dev/null

bench_start tcpecho "$work" "${bench[@]}" tcp-echo --port "$echo_port"
bench_start webhookecho "$work" "${bench[@]}" webhook-echo --port "$hook_port"
# Server i of each kind: gateway i (ws, wss) and Kestrel echo i (ws, wss). Target lists: the first alone, and all.
declare -a gw_ws gw_wss kestrel_ws kestrel_wss gw_pids kestrel_pids
for i in $(seq 1 "$servers"); do
  ws_port=$(pg_free_port); wss_port=$(pg_free_port); tls_port=$(pg_free_port); admin_port=$(pg_free_port)
  # shellcheck disable=SC2086 # PLATFORM_BENCH_GATEWAY_ENV is words, split on purpose
  bench_start "gateway$i" "$root/gateway/Platform.Gateway/bin/Release/net10.0" env "${bench_egress_env[@]}" \
    "PLATFORM_SECRETS_DIR=$gateway_secrets" "${bench_gateway_tls[@]}" "Platform__SiloEndpoints__0=$cluster_endpoint" "Platform__NodeName=bench$i" \
    "Platform__ListenAddress=127.0.0.1" "Platform__WsPort=$ws_port" "Platform__WssPort=$wss_port" \
    "Platform__TlsPort=$tls_port" "Platform__DtlsPort=-1" "Platform__AdminPort=$admin_port" \
    "Platform__StateDirectory=$work/gateway$i" \
    ${PLATFORM_BENCH_GATEWAY_ENV:-} dotnet Platform.Gateway.dll
  gw_ws+=("127.0.0.1:$ws_port"); gw_wss+=("127.0.0.1:$wss_port"); eval "gw_pids+=(\$gateway${i}_pid)"
  kestrel_port=$(pg_free_port); kestrel_tls_port=$(pg_free_port)
  bench_start "kestrel$i" "$work" "${bench[@]}" kestrel-echo --port "$kestrel_port" --tls-port "$kestrel_tls_port" --pfx "$work/cert.pfx"
  kestrel_ws+=("127.0.0.1:$kestrel_port"); kestrel_wss+=("127.0.0.1:$kestrel_tls_port"); eval "kestrel_pids+=(\$kestrel${i}_pid)"
done
all() { local IFS=$1; shift; echo "$*"; }

mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile $(ulimit -n);
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 200000; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location / {
      proxy_pass http://${kestrel_ws[0]};
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s;
    }
  }
}
CONF
"$nginx_bin" -c "$work/nginx.conf" -g 'daemon on;' || die "nginx did not bench_start (see $work/nginx-error.log)"

upgrades() { # upgrades URL : true when a WebSocket upgrade to URL answers 101
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$1" || true)
  [ "$status" = 101 ]
}
for i in $(seq 0 $((servers - 1))); do
  for target in "http://${gw_ws[$i]}/t/bench/" "http://${gw_ws[$i]}/t/fwd/" "http://${gw_ws[$i]}/t/hook/" "http://${kestrel_ws[$i]}/"; do
    bench_wait_for "$target" upgrades "$target"
  done
  bench_wait_for "the certificate on ${gw_wss[$i]}" sh -c "echo | openssl s_client -connect ${gw_wss[$i]} -servername bench.bench.test 2>/dev/null | grep -q 'CN *= *bench.bench.test'"
done
bench_wait_for "nginx" upgrades "http://127.0.0.1:$nginx_port/"
nginx_pids="$(cat "$work/nginx.pid")$(pgrep -P "$(cat "$work/nginx.pid")" | sed 's/^/+/' | tr -d '\n')"

bench_machine
echo "nginx       $("$nginx_bin" -v 2>&1 | sed 's/.*: //'), worker_processes auto" >&2

x=$servers
"${bench[@]}" run \
  --target "gw-ws=ws,${gw_ws[0]},127.0.0.1,/t/bench/,${gw_pids[0]}" \
  --target "gw-wss=wss,${gw_wss[0]},bench.bench.test,/,${gw_pids[0]},$cert_thumbprint" \
  --target "gw-forward=ws,${gw_ws[0]},127.0.0.1,/t/fwd/,${gw_pids[0]}" \
  --target "gw-webhook=ws,${gw_ws[0]},127.0.0.1,/t/hook/,${gw_pids[0]}" \
  --target "kestrel-ws=ws,${kestrel_ws[0]},127.0.0.1,/,${kestrel_pids[0]}" \
  --target "kestrel-wss=wss,${kestrel_wss[0]},bench.bench.test,/,${kestrel_pids[0]},$cert_thumbprint" \
  --target "nginx-ws=ws,127.0.0.1:$nginx_port,127.0.0.1,/,$nginx_pids" \
  --target "gw-ws-x$x=ws,$(all '|' "${gw_ws[@]}"),127.0.0.1,/t/bench/,$(all + "${gw_pids[@]}")" \
  --target "gw-wss-x$x=wss,$(all '|' "${gw_wss[@]}"),bench.bench.test,/,$(all + "${gw_pids[@]}"),$cert_thumbprint" \
  --target "kestrel-ws-x$x=ws,$(all '|' "${kestrel_ws[@]}"),127.0.0.1,/,$(all + "${kestrel_pids[@]}")" \
  --target "kestrel-wss-x$x=wss,$(all '|' "${kestrel_wss[@]}"),bench.bench.test,/,$(all + "${kestrel_pids[@]}"),$cert_thumbprint" \
  --idle "10000:gw-ws,kestrel-ws,gw-wss,kestrel-wss;50000:gw-ws-x$x,kestrel-ws-x$x,gw-wss-x$x,kestrel-wss-x$x" \
  --upgrades gw-ws,kestrel-ws,nginx-ws,gw-wss,kestrel-wss \
  --echo gw-forward,gw-webhook,kestrel-ws,nginx-ws "$@"
echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
