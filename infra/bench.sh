#!/usr/bin/env bash
# Runs the silo benchmark harness (bench/Platform.Benchmarks) against a throwaway PostgreSQL with default
# durability (fsync and synchronous_commit on), removed on exit. Each scenario runs first on the previous build
# (silo and gateway built from --baseline-ref, by default the last silo before the Orleans state tier) and then on
# this checkout's silo and gateway, in the same run. Other arguments go to the harness, e.g.
#   infra/bench.sh --scenario all
#   infra/bench.sh --baseline-ref HEAD~3 --scenario put-config --count 500
#   infra/bench.sh --no-baseline --scenario failover
#   infra/bench.sh --baseline-ref HEAD --scenario config-fanout,lease-rtt,rest-send   # the cluster path
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

# The silo as it was before tenant state moved into grains: REST and leases straight over PostgreSQL.
baseline_ref=3d23a11b196b49067f8cef64052291ff0440d4a1
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --baseline-ref) [ "$#" -ge 2 ] || die "--baseline-ref needs a commit"; baseline_ref=$2; shift 2 ;;
    --no-baseline) baseline_ref=""; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "${#args[@]}" -gt 0 ] || args=(--scenario all)
# Gateways are built only for the scenarios that start gateway processes (a commit whose gateway does not build can
# still be measured in the others).
scenario=all
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
  [ "${args[i]}" != --scenario ] || scenario=${args[i + 1]}
done
with_gateways=false
case ",$scenario," in
  *,all,* | *,config-fanout,* | *,rest-send,*) with_gateways=true ;;
esac

command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
command -v git >/dev/null 2>&1 || die "git not found: install git (apt-get install -y git) and retry"
pg_ensure_installed

work=$(mktemp -d "${TMPDIR:-/tmp}/platform-bench.XXXXXX")
chmod 755 "$work"
cleanup() {
  local rc=$?
  pg_stop "$work/pg"
  if [ -d "$work/baseline" ]; then
    git -C "$root" worktree remove --force "$work/baseline" || log "could not remove the baseline worktree $work/baseline"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
build() { dotnet build "$1" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of $1 failed"; }
log "building bench/Platform.Benchmarks, silo/Platform.Silo$($with_gateways && echo " and gateway/Platform.Gateway")"
build bench/Platform.Benchmarks
build silo/Platform.Silo
harness=(--silo "$root/silo/Platform.Silo/bin/Release/net10.0/Platform.Silo.dll")
if $with_gateways; then
  build gateway/Platform.Gateway
  harness+=(--gateway "$root/gateway/Platform.Gateway/bin/Release/net10.0/Platform.Gateway.dll")
fi

if [ -n "$baseline_ref" ]; then
  git -C "$root" rev-parse --verify --quiet "$baseline_ref^{commit}" >/dev/null \
    || die "baseline $baseline_ref is not a commit of this repository (a shallow clone lacks history: git fetch --unshallow)"
  log "building the previous silo$($with_gateways && echo " and gateway") at $(git -C "$root" rev-parse --short "$baseline_ref")"
  git -C "$root" worktree add --quiet --detach "$work/baseline" "$baseline_ref"
  build "$work/baseline/silo/Platform.Silo"
  harness+=(--previous-silo "$work/baseline/silo/Platform.Silo/bin/Release/net10.0/Platform.Silo.dll")
  if $with_gateways; then
    build "$work/baseline/gateway/Platform.Gateway"
    harness+=(--previous-gateway "$work/baseline/gateway/Platform.Gateway/bin/Release/net10.0/Platform.Gateway.dll")
  fi
fi

log "starting PostgreSQL"
pg_init "$work/pg"
port=$(pg_free_port)
pg_start "$work/pg" "$port" "$work/postgres.log"

dotnet bench/Platform.Benchmarks/bin/Release/net10.0/Platform.Benchmarks.dll \
  --pg "Host=127.0.0.1;Port=$port;Username=postgres" "${harness[@]}" "${args[@]}"
