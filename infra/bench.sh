#!/usr/bin/env bash
# Runs the benchmark harness (bench/Platform.Benchmarks) against a throwaway PostgreSQL with default
# durability (fsync and synchronous_commit on), removed on exit. Arguments go to the harness, e.g.
#   infra/bench.sh --scenario all
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

[ "$#" -gt 0 ] || set -- --scenario all
command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
pg_ensure_installed

work=$(mktemp -d "${TMPDIR:-/tmp}/platform-bench.XXXXXX")
chmod 755 "$work"
cleanup() {
  local rc=$?
  pg_stop "$work/pg"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log "building bench/Platform.Benchmarks"
dotnet build bench/Platform.Benchmarks -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build failed"

log "starting PostgreSQL"
pg_init "$work/pg"
port=$(pg_free_port)
pg_start "$work/pg" "$port" "$work/postgres.log"

dotnet bench/Platform.Benchmarks/bin/Release/net10.0/Platform.Benchmarks.dll \
  --pg "Host=127.0.0.1;Port=$port;Username=postgres" "$@"
