#!/usr/bin/env bash
# Runs every check and test of the repository: format, build, all test projects against a
# throwaway PostgreSQL. Ends with one line "N passed, N failed, N skipped" computed from the
# test results. Works from any directory; exits non-zero when anything fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

step_name="start"
step() { step_name=$1; log "$1"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/platform-test.XXXXXX")
chmod 755 "$work"
pg_data="$work/pg"
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$step_name" != "summary" ]; then
    printf 'error: step "%s" failed (exit %s)\n' "$step_name" "$rc" >&2
  fi
  pg_stop "$pg_data"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

step "check tools"
command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
missing=()
[ -n "$(pg_bin_dir)" ] || missing+=(postgresql)
command -v gnutls-cli >/dev/null 2>&1 || missing+=(gnutls-bin)
# dnsmasq-base: the DNS server binary alone (no system service); reverse-DNS tests run it on loopback.
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The silo reads the public suffix list at start; host-name tests serve challenge records from a dnsmasq of their own.
[ -f /usr/share/publicsuffix/public_suffix_list.dat ] || missing+=(publicsuffix)
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
# infra/tests/run-sh.sh looks for free TCP and UDP ports with ss.
command -v ss >/dev/null 2>&1 || missing+=(iproute2)
# PROXY protocol tests put HAProxy (TCP mode, send-proxy and send-proxy-v2) in front of a gateway.
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
if [ "${#missing[@]}" -gt 0 ]; then
  step "install ${missing[*]}"
  apt_install "${missing[@]}"
fi
# Browser tests drive the system Chromium rather than a downloaded one.
PLATFORM_CHROMIUM=$(command -v chromium)
export PLATFORM_CHROMIUM

if [ -f tests/clients/package.json ]; then
  step "npm ci (tests/clients)"
  lock=tests/clients/package-lock.json
  installed=tests/clients/node_modules/.package-lock.json
  if [ -f "$installed" ] && [ "$installed" -nt "$lock" ] && [ "$installed" -nt tests/clients/package.json ]; then
    log "tests/clients/node_modules is up to date"
  else
    (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/clients failed (is the npm registry reachable?)"
  fi
fi

step "start throwaway PostgreSQL"
pg_init "$pg_data" "fsync = off" "synchronous_commit = off" "full_page_writes = off"
started=0
for attempt in 1 2 3 4 5; do
  pg_port=$(pg_free_port)
  if (pg_start "$pg_data" "$pg_port" "$work/postgres.log"); then
    started=1
    break
  fi
  log "PostgreSQL did not start on port $pg_port (attempt $attempt), trying another port"
done
[ "$started" -eq 1 ] || die "PostgreSQL did not start; see messages above"
export PLATFORM_TEST_PG="Host=127.0.0.1;Port=$pg_port;Username=postgres"
log "PostgreSQL $(basename "$(dirname "$(pg_bin_dir)")") on 127.0.0.1:$pg_port"

step "dotnet format --verify-no-changes"
dotnet format Platform.sln --verify-no-changes \
  || die "formatting differs; run 'dotnet format Platform.sln' and commit the result"

step "dotnet build -c Release"
dotnet build Platform.sln -c Release -nologo -v:minimal

step "dotnet test"
run_id="ci-$(date +%Y%m%d%H%M%S)-$$"
test_rc=0
dotnet test Platform.sln -c Release --no-build -nologo \
  --logger "trx;LogFileName=$run_id.trx" --logger "console;verbosity=normal" || test_rc=$?

# infra/run.sh as a user runs it (on the Release build above): two gateways, the silo killed, fail-static, restart.
step "infra/tests/run-sh.sh"
run_sh_rc=0
infra/tests/run-sh.sh --no-build || run_sh_rc=$?

step "summarize test results"
mapfile -t trx_files < <(find "$root" -path "$root/.git" -prune -o -type f -name "$run_id.trx" -print)
mapfile -t test_projects < <(dotnet sln Platform.sln list | grep -E '\.csproj$' | while read -r p; do
  if grep -qiE '<IsTestProject>\s*true\s*</IsTestProject>' "$p"; then printf '%s\n' "$p"; fi
done)
passed=0 failed=0 skipped=0
for f in "${trx_files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  attr() { local v; v=$(printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || true); printf '%s' "${v:-0}"; }
  passed=$((passed + $(attr passed)))
  failed=$((failed + $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted)))
  skipped=$((skipped + $(attr notExecuted) + $(attr inconclusive)))
done
result=0
if [ "${#trx_files[@]}" -lt "${#test_projects[@]}" ]; then
  printf 'error: %d test projects but %d result files: a test run crashed before writing results\n' \
    "${#test_projects[@]}" "${#trx_files[@]}" >&2
  result=1
fi
if [ "$test_rc" -ne 0 ]; then
  printf 'error: dotnet test exited with %d\n' "$test_rc" >&2
  result=1
fi
if [ "$failed" -ne 0 ]; then
  result=1
fi
if [ "$run_sh_rc" -ne 0 ]; then
  printf 'error: infra/tests/run-sh.sh (infra/run.sh end to end) failed with %d\n' "$run_sh_rc" >&2
  failed=$((failed + 1))
  result=1
else
  passed=$((passed + 1))
fi
if [ "$failed" -ne 0 ]; then
  # The console log of a long run scrolls; name each failed test and its message's first lines here, at the end.
  log "failed tests"
  command -v python3 >/dev/null 2>&1 || log "python3 is missing: search the log above for 'Failed ' to find them"
  for f in "${trx_files[@]}"; do
    command -v python3 >/dev/null 2>&1 || break
    python3 - "$f" <<'PY' || log "could not read $f"
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for r in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult", ns):
    if r.get("outcome") in ("Passed", "NotExecuted", "Inconclusive"):
        continue
    message = r.find(".//t:ErrorInfo/t:Message", ns)
    lines = (message.text or "").strip().splitlines() if message is not None else []
    print(f"FAILED {r.get('testName')} ({r.get('duration')})")
    for line in lines[:6]:
        print(f"    {line}")
    # Where in the tests it failed: the frames in the project's own test sources, innermost first.
    trace = r.find(".//t:ErrorInfo/t:StackTrace", ns)
    frames = [l.strip() for l in (trace.text or "").splitlines() if "/tests/" in l and " in " in l] if trace is not None else []
    for frame in frames[:3]:
        print(f"    {frame}")
PY
  done
fi
rm -f "${trx_files[@]}"
step_name="summary"
printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
exit "$result"
