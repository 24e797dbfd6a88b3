#!/usr/bin/env bash
# Bytes the gateway allocates per echoed message, over ws and over DTLS, for this tree's gateway and a base
# revision's gateway in the same run (same silo, same tenant, one gateway at a time): the gateway's own count of
# allocated bytes (GC.GetTotalAllocatedBytes through its Prometheus scrape) before and after a closed loop of
# 64-byte echoes, less what it allocates in the same time idle. Everything runs on loopback and stops by itself; the
# throwaway PostgreSQL, the base revision's worktree and all processes are removed on exit.
#   infra/bench-pump.sh                          # base: where this branch left main (git merge-base HEAD main)
#   infra/bench-pump.sh --base 76f0cd5 --messages 40000
#   infra/bench-pump.sh --base none              # this tree's gateway only
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

base=$(git merge-base HEAD main 2>/dev/null || echo none)
messages=20000
connections=4
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=infra/lib/bench.sh
source "$root/infra/lib/bench.sh"
# The silo's admin listener on a free port (its default, 5081, may be taken on a shared machine); the silo inherits it.
Platform__AdminUrls="http://127.0.0.1:$(pg_free_port)"
export Platform__AdminUrls
bench_init pumpbench bench/Platform.Gateway.Dtls.Bench
bench=(dotnet "$root/bench/Platform.Gateway.Dtls.Bench/bin/Release/net10.0/Platform.Gateway.Dtls.Bench.dll")

declare -a labels dirs
if [ "$base" != none ]; then
  base_commit=$(git rev-parse --short "$base")
  log "building the gateway of $base_commit in a temporary worktree"
  git worktree add -q --detach "$work/base" "$base_commit"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "git -C '$root' worktree remove --force '$work/base' 2>/dev/null || true; bench_cleanup" EXIT
  dotnet build "$work/base/gateway/Platform.Gateway" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of the base gateway failed"
  labels+=("base $base_commit"); dirs+=("$work/base/gateway/Platform.Gateway/bin/Release/net10.0")
fi
labels+=("this tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- gateway || echo '+changes')")
dirs+=("$root/gateway/Platform.Gateway/bin/Release/net10.0")

quiet='"limits":{"maxConnections":1000},"timeouts":{"idleTimeoutSeconds":0},"webSocket":{"pingIntervalSeconds":0}'
bench_rest POST /v1/tenants "{\"slug\":\"bench\",\"displayName\":\"Bench echo\",\"config\":{$quiet}}" >/dev/null
psk_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
bench_rest POST /v1/tenants/bench/psk-identities "{\"identity\":\"dev1\",\"key\":\"$psk_key\"}" >/dev/null

bench_machine
for i in "${!labels[@]}"; do
  ws_port=$(pg_free_port); wss_port=$(pg_free_port); tls_port=$(pg_free_port); admin_port=$(pg_free_port); dtls_port=$(pg_free_port)
  bench_start "gateway$i" "${dirs[$i]}" env "${bench_egress_env[@]}" \
    "PLATFORM_SECRETS_DIR=$gateway_secrets" "${bench_gateway_tls[@]}" "Platform__SiloEndpoints__0=$cluster_endpoint" "Platform__NodeName=pumpbench$i" \
    "Platform__ListenAddress=127.0.0.1" "Platform__WsPort=$ws_port" "Platform__WssPort=$wss_port" \
    "Platform__TlsPort=$tls_port" "Platform__DtlsPort=$dtls_port" "Platform__AdminPort=$admin_port" \
    "Platform__StateDirectory=$work/gateway$i" dotnet Platform.Gateway.dll
  bench_wait_for "gateway ${labels[$i]}" curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/metrics"
  # A plain GET to the tenant's path is answered 404 until the gateway serves the tenant (then 400: not a WebSocket request).
  bench_wait_for "the bench tenant on gateway ${labels[$i]}" sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$ws_port/t/bench/ | grep -qvx -e 404 -e 000"
  echo "gateway     ${labels[$i]}: $(cut -d' ' -f1-3 /proc/loadavg) load before" >&2
  echo "### gateway ${labels[$i]}"
  "${bench[@]}" alloc --server "127.0.0.1:$dtls_port" --psk "bench/dev1:$psk_key" --ws "ws://127.0.0.1:$ws_port/t/bench/" \
    --metrics "http://127.0.0.1:$admin_port/metrics" --messages "$messages" --connections "$connections"
  eval "kill -TERM \$gateway${i}_pid"; eval "wait \$gateway${i}_pid" 2>/dev/null || true
done
echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
