#!/usr/bin/env bash
# Outbox delivery rate: how fast the silo's webhook sender drains lifecycle events from the PostgreSQL outbox to
# a local receiver (the `webhook-echo` of bench/Platform.Gateway.Bench, which acknowledges every event with 204).
# For each tenant count K, K tenants with a signed webhook are created through REST and a backlog of connected /
# disconnected pairs is written into the outbox in one transaction (the rows AppendAsync writes: numbered per
# tenant, pending, due now); the sender's drain is timed from that commit to the last delivery, with p50/p99 of
# delivered_at - recorded_at. A paced phase then writes a few events every 100 ms below the drain rate, so its
# p50/p99 are the sender's own latency rather than a position in a queue. Baselines in the same run: the
# receiver's raw rate under wrk POSTing the same body (1 and 16 connections), and the silo of another commit
# (--baseline-ref) on its own database of the same PostgreSQL, measured with the same cases before this tree's.
# Everything runs on loopback and stops by itself; the throwaway PostgreSQL and all processes are removed on exit.
#   infra/bench-outbox.sh                                   # K = 1, 4 and 16; 8000 events per backlog
#   infra/bench-outbox.sh --tenants 1,16 --events 2000      # a quick look
#   infra/bench-outbox.sh --baseline-ref cf15c7c            # also the silo of that commit, in the same run
# Options: --tenants K,K,... (default 1,4,16), --events N (events per backlog, default 8000, split over the K
# tenants), --paced-rate R (events per second in the paced phase, default 50), --paced-seconds S (default 10),
# --wrk-seconds S (default 5), --baseline-ref REF, --limit S (longest wait for one drain, default 600).
set -euo pipefail

tenant_counts=1,4,16
events=8000
paced_rate=50
paced_seconds=10
wrk_seconds=5
baseline_ref=''
limit=600
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
  case $1 in
    --tenants) tenant_counts=$2 ;;
    --events) events=$2 ;;
    --paced-rate) paced_rate=$2 ;;
    --paced-seconds) paced_seconds=$2 ;;
    --wrk-seconds) wrk_seconds=$2 ;;
    --baseline-ref) baseline_ref=$2 ;;
    --limit) limit=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
for n in "$events" "$paced_rate" "$paced_seconds" "$wrk_seconds" "$limit"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "not a positive number: $n" >&2; exit 2; }
done
[[ $tenant_counts =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "--tenants takes numbers separated by commas" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"
# shellcheck source=infra/lib/bench.sh
source "$root/infra/lib/bench.sh"

command -v wrk >/dev/null 2>&1 || apt_install wrk
if [ -n "$baseline_ref" ]; then
  baseline_commit=$(git -C "$root" rev-parse --verify --short "$baseline_ref^{commit}") || { echo "unknown commit $baseline_ref" >&2; exit 2; }
fi

bench_init outboxbench bench/Platform.Gateway.Bench
harness=(dotnet "$root/bench/Platform.Gateway.Bench/bin/Release/net10.0/Platform.Gateway.Bench.dll")
pg_port=$(sed -n 4p "$work/pg/postmaster.pid")
psql_in() { # psql_in DATABASE ARGS... : psql on the run's PostgreSQL, stops at the first error, unaligned output
  local db=$1; shift
  "$(pg_bin_dir)/psql" -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" "$@"
}

hook_port=$(pg_free_port)
bench_start webhookecho "$work" "${harness[@]}" webhook-echo --port "$hook_port"
hook_url="http://127.0.0.1:$hook_port/hook"
bench_wait_for "the webhook receiver" curl -fsS -X OPTIONS "$hook_url"
hook_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

# silos: NAME URL OPERATOR_KEY DATABASE PID, one line each, the baseline first.
silos=()
if [ -n "$baseline_ref" ]; then
  # The baseline's sources only (no checkout, nothing written to the repository), built in the work folder; it runs
  # on a database of its own in the same PostgreSQL, as a cluster of its own.
  log "building the silo of $baseline_commit (baseline)"
  mkdir "$work/baseline"
  git -C "$root" archive "$baseline_commit" | tar -x -C "$work/baseline"
  dotnet build "$work/baseline/silo/Platform.Silo" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of the baseline silo failed"
  psql_in postgres -c 'CREATE DATABASE platform_baseline' >/dev/null
  baseline_key="op_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  baseline_url="http://127.0.0.1:$(pg_free_port)"
  mapfile -t baseline_tls < <(bench_cluster_tls silo)
  bench_start baselinesilo "$work/baseline/silo/Platform.Silo/bin/Release/net10.0" env "${bench_egress_env[@]}" "${bench_silo_env[@]}" \
    "Platform__ConnectionString=Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=platform_baseline" \
    "Platform__MasterKey=$(head -c 32 /dev/urandom | base64 -w0)" "Platform__OperatorKey=$baseline_key" \
    "Platform__Cluster__SiloPort=$(pg_free_port)" "Platform__Cluster__GatewayPort=$(pg_free_port)" "${baseline_tls[@]}" \
    "Urls=$baseline_url" dotnet Platform.Silo.dll
  bench_wait_for "the baseline silo" curl -fsS "$baseline_url/healthz"
  # shellcheck disable=SC2154 # set by bench_start
  silos+=("baseline-$baseline_commit $baseline_url $baseline_key platform_baseline $baselinesilo_pid")
fi
this_commit="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- silo 2>/dev/null || echo '+changes')"
# shellcheck disable=SC2154 # silo_url, operator_key and silo_pid are set by bench_init
silos+=("$this_commit $silo_url $operator_key platform $silo_pid")

bench_machine
{
  echo "commit      $this_commit"
  [ -z "$baseline_ref" ] || echo "baseline    $baseline_commit"
  echo "receiver    webhook-echo on 127.0.0.1:$hook_port (Kestrel, HTTP/1.1, 204 for lifecycle events)"
} >&2

# A lifecycle event as the sender POSTs it, for the receiver's raw rate.
sample='{"id":"0195f3a1-7c2e-7b10-9d4e-2f1a6b3c4d5e","type":"connected","sequence":41,"tenant":"acme","connectionId":"gw-eu-1.1f4","protocol":"wss","remoteAddress":"198.51.100.23","remotePort":50432,"closeCode":null,"closeReason":null,"occurredAt":"2026-03-01T12:00:00+00:00"}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$sample'
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
LUA
echo
echo "| baseline: receiver alone | connections | requests/s | p50 | p99 |"
echo "|---|---|---|---|---|"
for connections in 1 16; do
  out=$(wrk -t 1 -c "$connections" -d "${wrk_seconds}s" --latency -s "$work/post.lua" "$hook_url")
  rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "| wrk POST (${#sample} B body) | $connections | $rate | $p50 | $p99 |"
done

cpu_ms() { # cpu_ms PID : user + system CPU time of the process so far, in milliseconds
  awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"
}

# create_tenants URL KEY PREFIX K : K tenants PREFIX1n..PREFIXKn with the receiver as their signed webhook (the
# closing letter keeps PREFIX1n from being a prefix of PREFIX10n).
create_tenants() {
  local url=$1 key=$2 prefix=$3 k=$4 i
  local config="{\"delivery\":{\"webhook\":{\"url\":\"$hook_url\",\"secret\":\"$hook_secret\"}}}"
  for i in $(seq 1 "$k"); do
    silo_url=$url operator_key=$key bench_rest POST /v1/tenants "{\"slug\":\"$prefix${i}n\",\"displayName\":\"Outbox bench\",\"config\":$config}" >/dev/null
  done
}

# append DATABASE PREFIX PER_TENANT : PER_TENANT (even) events for every tenant whose slug starts with PREFIX, in one
# transaction: connected/disconnected pairs numbered after the tenant's last number, recorded and due now, as
# EventOutbox.AppendAsync writes them.
append() {
  psql_in "$1" -v prefix="$2" -v n="$3" >/dev/null <<'SQL'
BEGIN;
INSERT INTO webhook_streams (tenant_id)
SELECT id FROM tenants WHERE starts_with(slug, :'prefix') ORDER BY id ON CONFLICT (tenant_id) DO NOTHING;
WITH s AS (
  INSERT INTO tenant_event_sequences AS s (tenant_id, last_sequence)
  SELECT id, :n FROM tenants WHERE starts_with(slug, :'prefix') ORDER BY id
  ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = s.last_sequence + excluded.last_sequence
  RETURNING tenant_id, last_sequence)
INSERT INTO tenant_events (tenant_id, sequence, id, type, connection_id, protocol, remote_address, remote_port,
                           close_code, close_reason, occurred_at, recorded_at, next_attempt_at)
SELECT s.tenant_id, s.last_sequence - :n + g, gen_random_uuid(),
       CASE WHEN g % 2 = 1 THEN 'connected' ELSE 'disconnected' END,
       'bench-' || left(s.tenant_id::text, 8) || '.' || to_hex((s.last_sequence - :n + g + 1) / 2), 'wss',
       '198.51.100.23', 40000 + g % 20000,
       CASE WHEN g % 2 = 0 THEN 1000 END, CASE WHEN g % 2 = 0 THEN 'bye' END, now(), now(), now()
FROM s CROSS JOIN generate_series(1, :n) AS g;
COMMIT;
SQL
}

# pending DATABASE PREFIX : events of those tenants not yet delivered (pending or failed).
pending() {
  psql_in "$1" -v prefix="$2" <<'SQL'
SELECT count(*) FROM tenant_events e JOIN tenants t ON t.id = e.tenant_id
WHERE starts_with(t.slug, :'prefix') AND e.state <> 'delivered';
SQL
}

# wait_drained DATABASE PREFIX : polls until every event of those tenants is delivered (at most --limit seconds).
wait_drained() {
  local deadline=$((SECONDS + limit)) left
  while left=$(pending "$1" "$2") && [ "$left" != 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "$left events of $2* still not delivered after $limit s"
    sleep 0.2
  done
}

# figures DATABASE PREFIX : events | delivered/s from the first record to the last delivery | p50 | p99 (ms)
figures() {
  psql_in "$1" -v prefix="$2" -F ' | ' <<'SQL'
SELECT count(*),
       round(count(*) / greatest(extract(epoch FROM max(e.delivered_at) - min(e.recorded_at)), 0.001)),
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.delivered_at - e.recorded_at)) * 1000)::numeric),
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM e.delivered_at - e.recorded_at)) * 1000)::numeric)
FROM tenant_events e JOIN tenants t ON t.id = e.tenant_id
WHERE starts_with(t.slug, :'prefix') AND e.state = 'delivered';
SQL
}

echo
echo "| silo | phase | tenants | events | delivered/s | p50 ms | p99 ms | silo CPU ms per event |"
echo "|---|---|---|---|---|---|---|---|"
round=0
for line in "${silos[@]}"; do
  read -r name url key db pid <<<"$line"
  log "silo $name"
  IFS=, read -r -a counts <<<"$tenant_counts"
  for k in "${counts[@]}"; do
    round=$((round + 1))
    prefix="b${round}t"
    create_tenants "$url" "$key" "$prefix" "$k"
    per=$(( (events / k + 1) / 2 * 2 ))
    before=$(cpu_ms "$pid")
    append "$db" "$prefix" "$per"
    wait_drained "$db" "$prefix"
    after=$(cpu_ms "$pid")
    IFS='|' read -r n rate p50 p99 <<<"$(figures "$db" "$prefix" | tr -d ' ')"
    echo "| $name | backlog | $k | $n | $rate | $p50 | $p99 | $(awk -v c=$((after - before)) -v n="$n" 'BEGIN {printf "%.2f", c / n}') |"
  done

  # Paced: every 100 ms, one connected/disconnected pair for enough of the largest set of tenants to make the rate.
  k=${counts[-1]}
  round=$((round + 1))
  prefix="p${round}t"
  create_tenants "$url" "$key" "$prefix" "$k"
  pairs=$(( (paced_rate + 19) / 20 ))
  [ "$pairs" -le "$k" ] || pairs=$k
  before=$(cpu_ms "$pid")
  started=$(date +%s.%N)
  end=$((SECONDS + paced_seconds))
  tick=0
  while [ "$SECONDS" -lt "$end" ]; do
    writers=()
    for i in $(seq 1 "$pairs"); do
      append "$db" "$prefix$(( (tick * pairs + i - 1) % k + 1 ))n" 2 &
      writers+=("$!")
    done
    # Only these: a bare wait would also wait for the silo and the receiver.
    wait "${writers[@]}"
    tick=$((tick + 1))
    sleep 0.1
  done
  written=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}')
  wait_drained "$db" "$prefix"
  after=$(cpu_ms "$pid")
  IFS='|' read -r n rate p50 p99 <<<"$(figures "$db" "$prefix" | tr -d ' ')"
  echo "| $name | paced, $(awk -v n="$n" -v s="$written" 'BEGIN {printf "%.0f", n / s}') events/s written for ${written} s | $k | $n | (paced) | $p50 | $p99 | $(awk -v c=$((after - before)) -v n="$n" 'BEGIN {printf "%.2f", c / n}') |"
  if [ "$pid" != "$silo_pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
done
echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
