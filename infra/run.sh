#!/usr/bin/env bash
# Runs the platform on this machine: a private PostgreSQL (kept between runs), the silo, one or more
# gateways and the admin portal. Ctrl-C stops everything, newest first.
#
#   infra/run.sh [--gateways N] [--no-build]
#                                 start the platform with N gateways (default 1, at most 20); --no-build starts the
#                                 Release build already there instead of building first
#   infra/run.sh --restart NAME   ask the infra/run.sh running on the same data directory to start NAME
#                                 (silo, gateway-1 .. gateway-N, portal) again, stopping it first if it runs
#
# A process that exits is reported (name, status, the end of its log) and the others keep running, so a
# gateway can be seen serving from its snapshot while the silo is down (fail-static).
#
# Settings (environment, all optional):
#   PLATFORM_DATA_DIR               secrets, logs and PostgreSQL data          (default <repo>/.data)
#   PLATFORM_PG_PORT                port of the private PostgreSQL             (default 55433)
#   PLATFORM_SILO_PORT              port of the silo REST API                  (default 5080)
#   PLATFORM_PORTAL_PORT            port of the admin portal                   (default 5000)
#   PLATFORM_SILO_ADMIN_PORT        the silo's admin port: /metrics, /healthz  (default 5081)
#   PLATFORM_PORTAL_ADMIN_PORT      the portal's admin port: /metrics, /healthz (default 5001)
#   PLATFORM_CLUSTER_SILO_PORT      the silo's Orleans silo-to-silo port       (default 11111)
#   PLATFORM_CLUSTER_GATEWAY_PORT   the silo's Orleans client port             (default 30000)
#   PLATFORM_LISTEN_ADDRESS         address of the gateways' public listeners  (default 127.0.0.1; 0.0.0.0 opens
#                                   them on every IPv4 address of this machine)
#   PLATFORM_GATEWAY_WS_PORT        ws port of gateway-1                       (default 8080)
#   PLATFORM_GATEWAY_WSS_PORT       wss port of gateway-1                      (default 8443)
#   PLATFORM_GATEWAY_TLS_PORT       SNI-routed TLS port of gateway-1           (default 7443)
#   PLATFORM_GATEWAY_DTLS_PORT      DTLS port (UDP) of gateway-1               (default 5684)
#   PLATFORM_GATEWAY_ADMIN_PORT     admin port (health, /metrics) of gateway-1 (default 5090)
# Gateway k (1-based) uses each of those ports plus k-1; -1 turns a ws, wss, TLS or DTLS listener off. The silo,
# the silo's Orleans ports, the portal, the admin ports and PostgreSQL always listen on 127.0.0.1.
#
# The Orleans ports speak TLS only, with a certificate from the cluster CA at both ends: the first run creates the
# CA in .data/cluster-ca (EC P-256; its key stays there, mode 600) and every run issues the silo's certificate and
# one per gateway (gateway-N) again when missing, not from the current CA, or expiring within 30 days.
#
# Secrets never reach a process through its environment or command line (both readable under /proc):
# each app reads its own directory under .data/secrets (PLATFORM_SECRETS_DIR, one file per setting), and
# PostgreSQL asks every connection for a password (SCRAM-SHA-256); the silo signs in as the role
# `platform`, which owns the database and nothing more.
set -euo pipefail

# A restart request (infra/run.sh --restart) arrives as SIGUSR1; until the main loop handles it, only a flag is set.
restart_requested=0
trap 'restart_requested=1' USR1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"
# shellcheck source=infra/lib/cluster-ca.sh
source "$root/infra/lib/cluster-ca.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# wait -n -p (which process ended) needs bash 5.1.
if [ "${BASH_VERSINFO[0]}" -lt 5 ] || { [ "${BASH_VERSINFO[0]}" -eq 5 ] && [ "${BASH_VERSINFO[1]}" -lt 1 ]; }; then
  die "infra/run.sh needs bash 5.1 or newer (this is $BASH_VERSION)"
fi

gateway_count=1
restart_name=""
build=1
while [ $# -gt 0 ]; do
  case $1 in
    --gateways) [ $# -ge 2 ] || die "--gateways needs a number"; gateway_count=$2; shift 2 ;;
    --gateways=*) gateway_count=${1#*=}; shift ;;
    --restart) [ $# -ge 2 ] || die "--restart needs a name: silo, gateway-1 .. gateway-N or portal"; restart_name=$2; shift 2 ;;
    --restart=*) restart_name=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1'; see infra/run.sh --help" ;;
  esac
done
[[ $gateway_count =~ ^[0-9]+$ ]] && [ "$gateway_count" -ge 1 ] && [ "$gateway_count" -le 20 ] \
  || die "--gateways takes a number from 1 to 20, not '$gateway_count'"

data_dir=${PLATFORM_DATA_DIR:-$root/.data}
if [ -n "$restart_name" ]; then
  [ -d "$data_dir" ] || die "$data_dir does not exist: no infra/run.sh has run there"
fi
mkdir -p "$data_dir"
# Absolute, because the apps run in their build output folders and read their secrets directories by path.
data_dir=$(cd "$data_dir" && pwd)
run_dir="$data_dir/run"
logs="$data_dir/logs"

# A command line that reaches this run again (for the messages that say how to restart a process).
self_command="infra/run.sh"
[ -z "${PLATFORM_DATA_DIR:-}" ] || self_command="PLATFORM_DATA_DIR=$(printf '%q' "$data_dir") infra/run.sh"

# running_pid : the pid of the infra/run.sh running on this data directory, or nothing.
running_pid() {
  local pid
  pid=$(cat "$run_dir/run.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && grep -qa 'run\.sh' "/proc/$pid/cmdline" 2>/dev/null; then
    printf '%s\n' "$pid"
  fi
}

if [ -n "$restart_name" ]; then
  main_pid=$(running_pid)
  [ -n "$main_pid" ] || die "no infra/run.sh is running on $data_dir; start one with $self_command"
  [ ! -e "$run_dir/restart.request" ] || die "a restart is already in progress ($run_dir/restart.request)"
  rm -f "$run_dir/restart.result"
  printf '%s\n' "$restart_name" >"$run_dir/restart.request.tmp"
  mv -f "$run_dir/restart.request.tmp" "$run_dir/restart.request"
  kill -USR1 "$main_pid"
  log "asked infra/run.sh (pid $main_pid) to restart $restart_name; its own output shows the progress"
  # The running script waits up to 120 s for the process to be ready, plus up to 15 s to stop it first.
  for _ in $(seq 1 1800); do
    if [ -s "$run_dir/restart.result" ] && [ ! -e "$run_dir/restart.request" ]; then
      result=$(<"$run_dir/restart.result")
      rm -f "$run_dir/restart.result"
      case $result in
        ok:*) log "${result#ok: }"; exit 0 ;;
        *) die "${result#error: }" ;;
      esac
    fi
    kill -0 "$main_pid" 2>/dev/null || die "infra/run.sh (pid $main_pid) ended before it answered"
    sleep 0.1
  done
  rm -f "$run_dir/restart.request"
  die "infra/run.sh (pid $main_pid) did not answer within 180 s"
fi

pg_port=${PLATFORM_PG_PORT:-55433}
silo_port=${PLATFORM_SILO_PORT:-5080}
portal_port=${PLATFORM_PORTAL_PORT:-5000}
silo_admin_port=${PLATFORM_SILO_ADMIN_PORT:-5081}
portal_admin_port=${PLATFORM_PORTAL_ADMIN_PORT:-5001}
cluster_silo_port=${PLATFORM_CLUSTER_SILO_PORT:-11111}
cluster_gateway_port=${PLATFORM_CLUSTER_GATEWAY_PORT:-30000}
listen_address=${PLATFORM_LISTEN_ADDRESS:-127.0.0.1}
gw_ws=${PLATFORM_GATEWAY_WS_PORT:-8080}
gw_wss=${PLATFORM_GATEWAY_WSS_PORT:-8443}
gw_tls=${PLATFORM_GATEWAY_TLS_PORT:-7443}
gw_dtls=${PLATFORM_GATEWAY_DTLS_PORT:-5684}
gw_admin=${PLATFORM_GATEWAY_ADMIN_PORT:-5090}
silo_url="http://127.0.0.1:$silo_port"
portal_url="http://127.0.0.1:$portal_port"
secrets_dir="$data_dir/secrets"
silo_secrets="$secrets_dir/silo"
# Superuser password, for this script's bootstrap only, in the format libpq reads (PGPASSFILE).
pg_superuser_pgpass="$data_dir/postgres-superuser.pgpass"
# Password of the role `platform` the silo signs in as.
pg_platform_password_file="$data_dir/postgres-platform.password"
# Dedicated tenant ports (the silo's Platform:DedicatedPortFirst/Last and gateway-1's DedicatedPortMin/Max defaults).
dedicated_first=20000
dedicated_last=20999

# check_port NAME VALUE [off] : VALUE is a port (1..65535), or -1 when the listener may be turned off.
check_port() {
  if [ "${3:-}" = off ] && [ "$2" = "-1" ]; then return 0; fi
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] \
    || die "$1 must be a port number 1..65535${3:+ or -1 (off)}, not '$2'"
}
check_port PLATFORM_PG_PORT "$pg_port"
check_port PLATFORM_SILO_PORT "$silo_port"
check_port PLATFORM_PORTAL_PORT "$portal_port"
check_port PLATFORM_SILO_ADMIN_PORT "$silo_admin_port"
check_port PLATFORM_PORTAL_ADMIN_PORT "$portal_admin_port"
check_port PLATFORM_CLUSTER_SILO_PORT "$cluster_silo_port"
check_port PLATFORM_CLUSTER_GATEWAY_PORT "$cluster_gateway_port"
check_port PLATFORM_GATEWAY_WS_PORT "$gw_ws" off
check_port PLATFORM_GATEWAY_WSS_PORT "$gw_wss" off
check_port PLATFORM_GATEWAY_TLS_PORT "$gw_tls" off
check_port PLATFORM_GATEWAY_DTLS_PORT "$gw_dtls" off
check_port PLATFORM_GATEWAY_ADMIN_PORT "$gw_admin"
# The gateway parses the address itself (IPAddress.Parse); this catches a host name or a typo before the build.
[[ $listen_address =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $listen_address =~ ^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$ ]] \
  || die "PLATFORM_LISTEN_ADDRESS must be an IP address (127.0.0.1, 0.0.0.0, ::), not '$listen_address'"

# gateway_port BASE K : the port of gateway K for a listener whose gateway-1 port is BASE (-1 stays -1).
gateway_port() { if [ "$1" -lt 0 ]; then printf '%s' -1; else printf '%s' $(($1 + $2 - 1)); fi; }

# Every TCP port of this run once, and the UDP ones once: two processes on one port would fail to start.
declare -A tcp_owner=() udp_owner=()
claim_port() {
  local kind=$1 port=$2 who=$3
  [ "$port" -ge 0 ] || return 0
  [ "$port" -le 65535 ] || die "$who would listen on port $port; lower the base port or --gateways"
  if [ "$kind" = tcp ]; then
    [ -z "${tcp_owner[$port]:-}" ] || die "$who and ${tcp_owner[$port]} would both listen on TCP port $port; set other ports"
    tcp_owner[$port]=$who
  else
    [ -z "${udp_owner[$port]:-}" ] || die "$who and ${udp_owner[$port]} would both listen on UDP port $port; set other ports"
    udp_owner[$port]=$who
  fi
  if [[ $who == gateway-* ]] && [ "$port" -ge "$dedicated_first" ] && [ "$port" -le "$dedicated_last" ]; then
    die "$who would listen on port $port, inside the dedicated tenant port range $dedicated_first-$dedicated_last; set another port"
  fi
}
claim_port tcp "$pg_port" "PostgreSQL"
claim_port tcp "$silo_port" "the silo"
claim_port tcp "$cluster_silo_port" "the silo (Orleans silo port)"
claim_port tcp "$cluster_gateway_port" "the silo (Orleans client port)"
claim_port tcp "$portal_port" "the portal"
claim_port tcp "$silo_admin_port" "the silo (admin port)"
claim_port tcp "$portal_admin_port" "the portal (admin port)"
for ((k = 1; k <= gateway_count; k++)); do
  claim_port tcp "$(gateway_port "$gw_ws" "$k")" "gateway-$k (ws)"
  claim_port tcp "$(gateway_port "$gw_wss" "$k")" "gateway-$k (wss)"
  claim_port tcp "$(gateway_port "$gw_tls" "$k")" "gateway-$k (TLS)"
  claim_port tcp "$(gateway_port "$gw_admin" "$k")" "gateway-$k (admin)"
  claim_port udp "$(gateway_port "$gw_dtls" "$k")" "gateway-$k (DTLS)"
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

other=$(running_pid)
[ -z "$other" ] || die "infra/run.sh is already running on $data_dir (pid $other); stop it first (Ctrl-C in its terminal)"
mkdir -p "$run_dir" "$logs"
chmod 755 "$data_dir"
rm -f "$run_dir"/*.pid "$run_dir"/restart.*
printf '%s\n' "$$" >"$run_dir/run.pid"

# The apps, in start order. app_env holds each app's environment, one assignment per line, so that
# --restart starts it exactly as before.
pids=()
names=()
app_dirs=()
app_env=()
exited=()
pg_started=0
stopping=0

# running PID : true while the process runs. An ended child stays a zombie until it is waited for, and kill -0
# still succeeds on a zombie, so the state in /proc decides.
running() {
  local state
  state=$(sed -n 's/^.*) \(.\) .*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# stop_app INDEX : SIGTERM, up to 15 s to finish, then SIGKILL.
stop_app() {
  local i=$1
  [ "${exited[$i]}" -eq 0 ] || return 0
  log "stopping ${names[$i]} (pid ${pids[$i]})"
  kill -TERM "${pids[$i]}" 2>/dev/null || true
  local waited=0
  while running "${pids[$i]}" && [ "$waited" -lt 150 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if running "${pids[$i]}"; then
    log "${names[$i]} did not stop in 15 s; killing it"
    kill -KILL "${pids[$i]}" 2>/dev/null || true
  fi
  wait "${pids[$i]}" 2>/dev/null || true
  exited[$i]=1
  rm -f "$run_dir/${names[$i]}.pid"
}

shutdown() {
  local rc=$?
  [ "$stopping" -eq 0 ] || return 0
  stopping=1
  # A second Ctrl-C must not cut the orderly stop short (and leave PostgreSQL running).
  trap '' INT TERM USR1
  # Newest first: the portal and the gateways stop while the silo still answers, so the gateways can
  # send their last connection events and give back their leases.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop_app "$i"
  done
  if [ "$pg_started" -eq 1 ]; then
    log "stopping PostgreSQL"
    pg_stop "$pg_data"
  fi
  rm -f "$run_dir/run.pid" "$run_dir"/restart.*
  exit "$rc"
}
trap shutdown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_busy_or_die() {
  if pg_port_in_use "$1"; then
    die "something already listens on 127.0.0.1:$1 ($2); is infra/run.sh already running? Stop it or set another port."
  fi
}

# start_app NAME PROJECT_DIR ENV... : starts the built app of PROJECT_DIR in the background, output to
# logs/NAME.log, its pid in run/NAME.pid. An app of that name started before (a restart) keeps its place in the
# stop order.
start_app() {
  local name=$1 project_dir=$2; shift 2
  local assembly; assembly=$(basename "$project_dir")
  local out="$root/$project_dir/bin/Release/net10.0"
  [ -f "$out/$assembly.dll" ] || die "$out/$assembly.dll not found; build it (infra/run.sh without --no-build)"
  : >"$logs/$name.log"
  # The output folder is the content root, so the app finds its appsettings.json. Its own session keeps
  # a terminal's Ctrl-C away from it: this script stops the apps itself, in order.
  # Settings that would carry a secret are dropped from what the app inherits; it reads its own from files.
  (cd "$out" && exec setsid env -u Platform__ConnectionString -u Platform__MasterKey -u Platform__OperatorKey \
    -u Platform__SnapshotKey -u PGPASSWORD -u PGPASSFILE "$@" dotnet "$assembly.dll") >>"$logs/$name.log" 2>&1 &
  local pid=$! i index=${#names[@]}
  for i in "${!names[@]}"; do [ "${names[$i]}" != "$name" ] || index=$i; done
  pids[$index]=$pid
  names[$index]=$name
  app_dirs[$index]=$project_dir
  app_env[$index]=$(printf '%s\n' "$@")
  exited[$index]=0
  printf '%s\n' "$pid" >"$run_dir/$name.pid"
  log "$name started (pid $pid, log $logs/$name.log)"
}

# index_of NAME : the index of app NAME, or nothing.
index_of() {
  local i
  for i in "${!names[@]}"; do
    if [ "${names[$i]}" = "$1" ]; then printf '%s\n' "$i"; return 0; fi
  done
}

# wait_ready NAME : waits until the app answers (silo: /healthz; gateway: registered with the silo, which its
# log says; portal: any HTTP answer). Fails, with the end of its log, when it exits or takes more than 120 s.
wait_ready() {
  local name=$1 i; i=$(index_of "$name")
  local pid=${pids[$i]} _
  for _ in $(seq 1 240); do
    if ! running "$pid"; then
      tail -n 40 "$logs/$name.log" >&2 || true
      log "$name exited during start-up; log: $logs/$name.log"
      return 1
    fi
    case $name in
      silo) curl -fsS -o /dev/null "$silo_url/healthz" 2>/dev/null && return 0 ;;
      gateway-*) grep -q 'Registered as ' "$logs/$name.log" && return 0 ;;
      portal) [ "$(curl -sS -o /dev/null -w '%{http_code}' "$portal_url/" 2>/dev/null)" != 000 ] && return 0 ;;
    esac
    sleep 0.5
  done
  log "$name did not become ready within 120 s; log: $logs/$name.log"
  return 1
}

log "checking tools"
command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
# The silo refuses wildcards directly under a public suffix, and stops at start without the list (Platform:PublicSuffixListPath).
[ -f /usr/share/publicsuffix/public_suffix_list.dat ] || apt_install publicsuffix
pg_ensure_installed

# Where PostgreSQL keeps its data and log. It runs as the postgres user when this script runs as root, and that
# user must be able to enter every directory above its data: a checkout under /root (mode 700) or another
# private home is out of its reach. Then the data goes to /var/lib/platform/<hash of the data directory's
# path>/postgres, linked from $data_dir/postgres so later runs find it again.
pg_link="$data_dir/postgres"
pg_home="/var/lib/platform/$(printf '%s' "$data_dir" | sha256sum | cut -c1-12)"
pg_log="$logs/postgres.log"
if [ -L "$pg_link" ]; then
  pg_data=$(readlink -f "$pg_link")
  pg_log="$(dirname "$pg_data")/postgres.log"
elif [ -e "$pg_link" ]; then
  pg_data=$pg_link
  blocked=$(pg_blocked_at "$data_dir")
  if [ -n "$blocked" ]; then
    die "PostgreSQL's data is in $pg_data, but the postgres user (PostgreSQL runs as postgres when this script runs as root) cannot enter $blocked ($(pg_describe_dir "$blocked")). Move the data where it can reach it, and link it:
    mkdir -p $pg_home && chmod 755 /var/lib/platform $pg_home && mv $pg_data $pg_home/postgres && ln -s $pg_home/postgres $pg_link
or start a new, empty instance in a data directory it can reach: PLATFORM_DATA_DIR=/var/lib/platform/data infra/run.sh"
  fi
else
  blocked=$(pg_blocked_at "$data_dir")
  if [ -z "$blocked" ]; then
    pg_data=$pg_link
  else
    pg_data="$pg_home/postgres"
    pg_log="$pg_home/postgres.log"
    # A cluster there without the link belongs to an earlier data directory of this path that was deleted: its
    # database was encrypted with that directory's master key, which is gone.
    [ ! -e "$pg_data" ] || die "$pg_data holds PostgreSQL data of an earlier $data_dir (the link $pg_link is gone, and with it that run's keys). Remove it to start afresh: rm -rf $pg_home"
    log "the postgres user cannot enter $blocked ($(pg_describe_dir "$blocked")), so PostgreSQL's data goes to $pg_data (linked from $pg_link)"
    mkdir -p "$pg_home"
    chmod 755 /var/lib/platform "$pg_home"
    ln -s "$pg_data" "$pg_link"
  fi
fi
# The server log lives beside data the postgres user can reach; the logs folder links to it.
[ "$pg_log" = "$logs/postgres.log" ] || ln -sfn "$pg_log" "$logs/postgres.log"

# new_password : 64 hex digits (letters and digits only, so they need no quoting anywhere).
new_password() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# write_secret FILE VALUE : FILE holds exactly VALUE, mode 600, replaced whole (a temporary file and a rename).
# printf is a shell builtin: the value appears on no command line.
write_secret() {
  (umask 077 && printf '%s' "$2" >"$1.tmp") || die "could not write $1"
  mv -f "$1.tmp" "$1"
}

# secret_dir DIR : creates DIR (and its parents under $data_dir) with mode 700.
secret_dir() {
  mkdir -p "$1"
  chmod 700 "$secrets_dir" "$1"
}

secret_dir "$silo_secrets"
# Runs before this one kept the keys in .data/secrets.env, passed as environment variables. They move
# into the silo's directory (the master key must stay: it decrypts the stored certificates and PSKs), and the
# old file goes once its keys are there, so no second copy remains.
legacy_secrets="$data_dir/secrets.env"
if [ -f "$legacy_secrets" ]; then
  log "moving the keys of $legacy_secrets to $silo_secrets"
  for pair in PLATFORM_MASTER_KEY:Platform__MasterKey PLATFORM_OPERATOR_KEY:Platform__OperatorKey; do
    variable=${pair%%:*} file="$silo_secrets/${pair#*:}"
    value=$(set +u; . "$legacy_secrets" && printf '%s' "${!variable:-}")
    [ -n "$value" ] || die "$legacy_secrets has no $variable; restore it or remove the file"
    if [ ! -s "$file" ]; then
      write_secret "$file" "$value"
    elif [ "$(<"$file")" != "$value" ]; then
      die "$legacy_secrets and $file hold different values for $variable; keep the right one and remove the other"
    fi
  done
  rm -f "$legacy_secrets"
fi
if [ ! -s "$silo_secrets/Platform__MasterKey" ]; then
  log "generating the master key and operator key in $silo_secrets"
  write_secret "$silo_secrets/Platform__MasterKey" "$(head -c 32 /dev/urandom | base64 -w0)"
fi
[ -s "$silo_secrets/Platform__OperatorKey" ] || write_secret "$silo_secrets/Platform__OperatorKey" "op_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# The cluster secret of the internal HTTP API is gone with that API (the cluster transport is TLS with certificates).
rm -f "$silo_secrets/Platform__ClusterSecret"
operator_key=$(<"$silo_secrets/Platform__OperatorKey")

for port in "${!tcp_owner[@]}"; do
  [ "$port" = "$pg_port" ] || port_busy_or_die "$port" "${tcp_owner[$port]}"
done
if [ -f "$pg_data/PG_VERSION" ]; then
  # An existing cluster needs the server version that created it.
  pg_version=$(cat "$pg_data/PG_VERSION")
  [ -x "/usr/lib/postgresql/$pg_version/bin/pg_ctl" ] \
    || die "$pg_data was created by PostgreSQL $pg_version, which is not installed; install postgresql-$pg_version or move $pg_data away"
  export PLATFORM_PG_VERSION=$pg_version
  log "reusing PostgreSQL $pg_version data in $pg_data"
else
  log "creating PostgreSQL data in $pg_data"
  pg_init "$pg_data"
fi
# A new cluster, one from before passwords (trust) or one whose superuser password file is lost gets a
# superuser password and password-only authentication before it listens.
if [ ! -s "$pg_superuser_pgpass" ] || grep -qE '^[[:space:]]*[^#[:space:]].*[[:space:]]trust([[:space:]]|$)' "$pg_data/pg_hba.conf"; then
  if pg_is_running "$pg_data"; then
    log "stopping the PostgreSQL left running by an earlier run, to switch it to passwords"
    pg_stop "$pg_data"
  fi
  superuser_password=""
  [ -s "$pg_superuser_pgpass" ] && superuser_password=$(<"$pg_superuser_pgpass") && superuser_password=${superuser_password##*:}
  [[ $superuser_password =~ ^[0-9a-f]{64}$ ]] || superuser_password=$(new_password)
  log "PostgreSQL: password authentication (SCRAM-SHA-256) only; superuser password in $pg_superuser_pgpass"
  pg_use_scram "$pg_data" "$superuser_password"
  write_secret "$pg_superuser_pgpass" "127.0.0.1:*:*:postgres:$superuser_password"
  unset superuser_password
fi
if pg_is_running "$pg_data"; then
  log "PostgreSQL in $pg_data is already running (left over from an earlier run); reusing it"
else
  pg_start "$pg_data" "$pg_port" "$pg_log"
fi
pg_started=1
bin=$(pg_bin_dir)
# The superuser signs in with the password from its pgpass file; the file's path is all the command line shows.
psql=(env PGPASSFILE="$pg_superuser_pgpass" "$bin/psql" -X -q -w -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -d postgres -tAc 'SELECT 1' >/dev/null \
  || die "cannot sign in to PostgreSQL on port $pg_port as postgres with the password in $pg_superuser_pgpass"

# The silo's role: it may log in and owns the platform database, its schema and every object in it (so
# migrations run), and holds no other power. Created here, or converted from a database the silo used to
# reach as the superuser: ownership of everything in it moves to `platform` (REASSIGN OWNED cannot take
# objects from the bootstrap superuser, hence one ALTER per object).
if [ ! -s "$pg_platform_password_file" ]; then
  write_secret "$pg_platform_password_file" "$(new_password)"
fi
platform_password=$(<"$pg_platform_password_file")
[[ $platform_password =~ ^[A-Za-z0-9]{16,}$ ]] || die "$pg_platform_password_file must hold at least 16 letters and digits"
# The statement with the password goes on stdin; log_min_error_statement keeps it out of the server log.
printf '%s\n' \
  "SET log_min_error_statement = panic;" \
  "SELECT 'CREATE ROLE platform' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'platform') \\gexec" \
  "ALTER ROLE platform WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$platform_password';" \
  "SELECT 'CREATE DATABASE platform OWNER platform' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'platform') \\gexec" \
  "ALTER DATABASE platform OWNER TO platform;" \
  "REVOKE ALL ON DATABASE platform FROM PUBLIC;" \
  | "${psql[@]}" -d postgres -f - || die "could not set up the role and database 'platform'"
"${psql[@]}" -d platform -f - <<'SQL' || die "could not make the role 'platform' owner of everything in the database 'platform'"
ALTER SCHEMA public OWNER TO platform;
DO $own$
DECLARE
    target constant oid := 'platform'::regrole;
    r record;
BEGIN
    FOR r IN
        SELECT n.oid::regnamespace AS name FROM pg_namespace n
        WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND n.nspowner <> target
    LOOP
        EXECUTE format('ALTER SCHEMA %s OWNER TO platform', r.name);
    END LOOP;
    -- Tables before sequences: a table takes the sequences of its serial and identity columns with it.
    FOR r IN
        SELECT c.oid, c.oid::regclass AS name, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> target
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY c.relkind = 'S'
    LOOP
        CONTINUE WHEN (SELECT relowner FROM pg_class WHERE oid = r.oid) = target;
        EXECUTE format('ALTER %s %s OWNER TO platform',
            CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.name);
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND p.proowner <> target
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO platform', r.name);
    END LOOP;
    -- Enums, domains, ranges, multiranges and standalone composite types; array and row types follow their owner.
    FOR r IN
        SELECT t.oid::regtype AS name, t.typtype FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND t.typowner <> target
          AND (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO platform', CASE r.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.name);
    END LOOP;
END
$own$;
SQL
write_secret "$silo_secrets/Platform__ConnectionString" \
  "Host=127.0.0.1;Port=$pg_port;Username=platform;Password=$platform_password;Database=platform"
unset platform_password

# The portal gets its own directory, rewritten whole on every run, with only what it needs. Each gateway has its
# own too, holding only the key its fail-static snapshot is sealed with: generated on the gateway's first run and
# kept (a new key would make the saved snapshot unreadable). No gateway sees the master key, the operator key or
# the connection string. The directory shared by every gateway of earlier runs held the cluster secret: it goes.
portal_secrets="$secrets_dir/portal"
rm -rf "$portal_secrets" "$secrets_dir/gateway"
secret_dir "$portal_secrets"
write_secret "$portal_secrets/Platform__OperatorKey" "$operator_key"
for ((k = 1; k <= gateway_count; k++)); do
  secret_dir "$secrets_dir/gateway-$k"
  [ -s "$secrets_dir/gateway-$k/Platform__SnapshotKey" ] \
    || write_secret "$secrets_dir/gateway-$k/Platform__SnapshotKey" "$(head -c 32 /dev/urandom | base64 -w0)"
done

# The cluster CA and the leaf certificates of this run (docs/cluster-transport.md). Processes get the paths of their
# own certificate, key and the CA bundle; none is given the CA key.
cluster_ca_dir="$data_dir/cluster-ca"
cluster_ca_init "$cluster_ca_dir"
cluster_ca_leaf "$cluster_ca_dir" silo serverAuth,clientAuth
for ((k = 1; k <= gateway_count; k++)); do
  cluster_ca_leaf "$cluster_ca_dir" "gateway-$k" clientAuth
done
# cluster_tls NAME : the Platform:Cluster:Tls settings of the process holding leaf NAME.
cluster_tls() {
  printf '%s\n' "Platform__Cluster__Tls__CertificatePath=$cluster_ca_dir/$1.crt" \
    "Platform__Cluster__Tls__KeyPath=$cluster_ca_dir/$1.key" "Platform__Cluster__Tls__CaPath=$cluster_ca_dir/ca-bundle.crt"
}

apps=(silo/Platform.Silo)
[ -f gateway/Platform.Gateway/Platform.Gateway.csproj ] && apps+=(gateway/Platform.Gateway)
[ -f admin-web/Platform.AdminWeb/Platform.AdminWeb.csproj ] && apps+=(admin-web/Platform.AdminWeb)
if [ "$build" -eq 1 ]; then
  for app in "${apps[@]}"; do
    log "building $app"
    dotnet build "$app" -c Release -nologo -v:quiet -clp:ErrorsOnly || die "build of $app failed"
  done
fi

# Tenants' forward targets and webhook URLs may not reach loopback, private, link-local (cloud metadata) or other
# internal addresses; this private instance keeps that default. To let tenants reach, say, a backend on this machine,
# give the silo and the gateways the same ranges in their environment below, for example:
#   "Platform__Egress__AllowedRanges__0=127.0.0.0/8"   (and DeniedRanges__0=... to refuse more)
mapfile -t silo_tls < <(cluster_tls silo)
start_app silo silo/Platform.Silo "PLATFORM_SECRETS_DIR=$silo_secrets" "Urls=$silo_url" \
  "Platform__AdminUrls=http://127.0.0.1:$silo_admin_port" \
  "Platform__Cluster__ListenAddress=127.0.0.1" "Platform__Cluster__SiloPort=$cluster_silo_port" \
  "Platform__Cluster__GatewayPort=$cluster_gateway_port" "${silo_tls[@]}"
log "waiting for $silo_url/healthz"
wait_ready silo || die "the silo did not start; log: $logs/silo.log"

# silo_curl CURL_ARGS... : curl with the operator key. The header comes from a pipe (a builtin printf), so the
# key is on no command line; a request body with a secret goes on stdin (--data-binary @-) for the same reason.
silo_curl() {
  curl -sS -H @<(printf 'Authorization: Bearer %s\n' "$operator_key") "$@"
}

status=$(silo_curl -o /dev/null -w '%{http_code}' "$silo_url/v1/tenants/demo")
if [ "$status" = "200" ]; then
  log "demo tenant exists"
else
  status=$(silo_curl -o "$logs/demo-tenant.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"slug":"demo","displayName":"Demo tenant"}' "$silo_url/v1/tenants")
  case "$status" in
    201) log "demo tenant created" ;;
    409) log "demo tenant exists" ;;
    404 | 405) log "warning: this silo has no POST /v1/tenants yet; no demo tenant created" ;;
    *) cat "$logs/demo-tenant.json" >&2; die "creating the demo tenant failed with HTTP $status" ;;
  esac
fi

# The first portal operator: created once, its password printed only then (it is stored hashed).
operator_password=""
if [[ " ${apps[*]} " == *" admin-web/Platform.AdminWeb "* ]]; then
  candidate=$(head -c 18 /dev/urandom | base64)
  status=$(printf '{"userName":"admin","password":"%s"}' "$candidate" \
    | silo_curl -o "$logs/operator.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @- "$silo_url/v1/operators")
  case "$status" in
    201) operator_password=$candidate; log "portal operator 'admin' created" ;;
    409) log "portal operator 'admin' exists (its password was printed on the first run)" ;;
    *) cat "$logs/operator.json" >&2; die "creating the portal operator failed with HTTP $status" ;;
  esac
fi


# Gateway k listens on each base port plus k-1 and keeps its fail-static snapshot in state/gateway-k. One machine
# can bind a dedicated tenant port once, so only gateway-1 opens them: the others get an empty range
# (DedicatedPortMin above DedicatedPortMax) and skip each dedicated port with a warning.
has_gateway=0
if [[ " ${apps[*]} " == *" gateway/Platform.Gateway "* ]]; then
  has_gateway=1
  for ((k = 1; k <= gateway_count; k++)); do
    gateway_env=("PLATFORM_SECRETS_DIR=$secrets_dir/gateway-$k" "Platform__SiloEndpoints__0=127.0.0.1:$cluster_gateway_port"
      "Platform__NodeName=gw$k"
      "Platform__ListenAddress=$listen_address"
      "Platform__WsPort=$(gateway_port "$gw_ws" "$k")" "Platform__WssPort=$(gateway_port "$gw_wss" "$k")"
      "Platform__TlsPort=$(gateway_port "$gw_tls" "$k")" "Platform__DtlsPort=$(gateway_port "$gw_dtls" "$k")"
      "Platform__AdminPort=$(gateway_port "$gw_admin" "$k")" "Platform__StateDirectory=$data_dir/state/gateway-$k")
    if [ "$k" -gt 1 ]; then
      gateway_env+=("Platform__DedicatedPortMin=65535" "Platform__DedicatedPortMax=1")
    fi
    # Its client certificate for the silo's Orleans gateway port.
    mapfile -t gateway_tls < <(cluster_tls "gateway-$k")
    gateway_env+=("${gateway_tls[@]}")
    start_app "gateway-$k" gateway/Platform.Gateway "${gateway_env[@]}"
  done
fi
if [[ " ${apps[*]} " == *" admin-web/Platform.AdminWeb "* ]]; then
  # AllowedHosts: the portal answers only to the address printed below (another Host header gets 400).
  start_app portal admin-web/Platform.AdminWeb "PLATFORM_SECRETS_DIR=$portal_secrets" "Platform__SiloUrl=$silo_url" \
    "Urls=$portal_url" "AllowedHosts=127.0.0.1" "Platform__AdminUrls=http://127.0.0.1:$portal_admin_port"
fi
for name in "${names[@]}"; do
  [ "$name" = silo ] && continue
  log "waiting for $name"
  wait_ready "$name" || die "$name did not start; log: $logs/$name.log"
done

# endpoint_host : how clients on this machine reach the gateways' public listeners.
case $listen_address in
  0.0.0.0 | :: | 0:0:0:0:0:0:0:0) endpoint_host=127.0.0.1 ;;
  *:*) endpoint_host="[$listen_address]" ;;
  *) endpoint_host=$listen_address ;;
esac

# show_endpoint LABEL URL_PREFIX PORT SUFFIX : one line of the gateway endpoints ("off" for a listener turned off).
show_endpoint() {
  if [ "$3" -lt 0 ]; then
    printf '    %-12s off\n' "$1"
  else
    printf '    %-12s %s%s:%s%s\n' "$1" "$2" "$endpoint_host" "$3" "$4"
  fi
}

cat <<INFO

Platform is running. Ctrl-C stops it; data stays in $data_dir.
  silo REST API     $silo_url          (OpenAPI: $silo_url/openapi/v1.json)
  silo Orleans      127.0.0.1:$cluster_silo_port (silos) / 127.0.0.1:$cluster_gateway_port (clients)
  silo admin        http://127.0.0.1:$silo_admin_port   (/metrics for Prometheus, /healthz)
INFO
if [ -n "$(index_of portal)" ]; then
  printf '  admin portal      %s\n' "$portal_url"
  printf '  portal admin      http://127.0.0.1:%s   (/metrics, /healthz)\n' "$portal_admin_port"
  if [ -n "$operator_password" ]; then
    printf '  portal sign-in    admin / %s   (shown once; stored hashed)\n' "$operator_password"
  fi
else
  printf '  admin portal      (not in this checkout)\n'
fi
if [ "$has_gateway" -eq 1 ]; then
  case $listen_address in
    127.* | ::1) scope="this machine only (PLATFORM_LISTEN_ADDRESS=0.0.0.0 opens them to the network)" ;;
    0.0.0.0 | ::) scope="every address of this machine (PLATFORM_LISTEN_ADDRESS=$listen_address)" ;;
    *) scope="$listen_address (PLATFORM_LISTEN_ADDRESS)" ;;
  esac
  printf '  gateways          public listeners on %s\n' "$scope"
  for ((k = 1; k <= gateway_count; k++)); do
    node=$(grep -o 'Registered as [^;]*' "$logs/gateway-$k.log" | tail -n 1 | cut -d' ' -f3)
    printf '  gateway-%s        node %s, log %s\n' "$k" "$node" "$logs/gateway-$k.log"
    show_endpoint "ws" "ws://" "$(gateway_port "$gw_ws" "$k")" "/t/demo/"
    show_endpoint "wss" "wss://" "$(gateway_port "$gw_wss" "$k")" "/t/demo/"
    show_endpoint "TLS (SNI)" "" "$(gateway_port "$gw_tls" "$k")" ""
    show_endpoint "DTLS (UDP)" "" "$(gateway_port "$gw_dtls" "$k")" ""
    printf '    %-12s http://127.0.0.1:%s/healthz   (also /metrics for Prometheus)\n' "admin" "$(gateway_port "$gw_admin" "$k")"
    if [ "$k" -eq 1 ]; then
      printf '    %-12s %s-%s (allocated per tenant on request)\n' "dedicated" "$dedicated_first" "$dedicated_last"
    fi
  done
else
  printf '  gateway           (not in this checkout)\n'
fi
cat <<INFO
  PostgreSQL        Host=127.0.0.1;Port=$pg_port;Username=platform;Database=platform  (data in $pg_data)
                    (password in $pg_platform_password_file; superuser's in $pg_superuser_pgpass)
  operator key      in $silo_secrets/Platform__OperatorKey
                    curl -H "Authorization: Bearer \$(cat $silo_secrets/Platform__OperatorKey)" $silo_url/v1/tenants
  secrets           $secrets_dir (one directory per process)
  logs              $logs
  a process that exits is reported here and the others keep running; start it again with
                    $self_command --restart NAME   (NAME: $(printf '%s ' "${names[@]}" | sed 's/ $//; s/ /, /g'))

INFO

# describe_status STATUS : "status 0", or "killed by SIGKILL" for a process ended by a signal.
describe_status() {
  if [ "$1" -gt 128 ] && [ "$1" -lt 160 ]; then
    printf 'killed by SIG%s (status %s)' "$(kill -l "$(($1 - 128))" 2>/dev/null || printf '%s' "$(($1 - 128))")" "$1"
  else
    printf 'status %s' "$1"
  fi
}

# handle_restart : serves one request of infra/run.sh --restart: stops the named app if it runs, starts it with the
# environment it had, waits until it is ready, and writes "ok: ..." or "error: ..." to run/restart.result.
handle_restart() {
  local name result i
  name=$(head -n 1 "$run_dir/restart.request" 2>/dev/null || true)
  i=$(index_of "$name")
  if [ -z "$i" ]; then
    result="error: no process named '$name' in this run; names: $(printf '%s ' "${names[@]}" | sed 's/ $//; s/ /, /g')"
  else
    stop_app "$i"
    local -a env_lines
    mapfile -t env_lines <<<"${app_env[$i]}"
    log "restarting $name (its previous log is kept as $logs/$name.previous.log)"
    mv -f "$logs/$name.log" "$logs/$name.previous.log" 2>/dev/null || true
    start_app "$name" "${app_dirs[$i]}" "${env_lines[@]}"
    if wait_ready "$name"; then
      result="ok: $name restarted (pid ${pids[$i]}, log $logs/$name.log)"
    else
      result="error: $name did not start again; log: $logs/$name.log"
    fi
  fi
  log "${result#*: }"
  printf '%s\n' "$result" >"$run_dir/restart.result.tmp"
  mv -f "$run_dir/restart.result.tmp" "$run_dir/restart.result"
  rm -f "$run_dir/restart.request"
}

# Until Ctrl-C: a process that exits is reported and the rest keep running (a gateway keeps serving from its
# snapshot while the silo is down). The run ends when the last process has exited.
set +e
while :; do
  live=()
  for i in "${!pids[@]}"; do
    [ "${exited[$i]}" -eq 1 ] || live+=("${pids[$i]}")
  done
  if [ "${#live[@]}" -eq 0 ]; then
    log "every process has exited; stopping"
    exit 1
  fi
  # A signal (a restart request) interrupts the wait with ended unset.
  ended=""
  wait -n -p ended "${live[@]}"
  rc=$?
  if [ -n "${ended:-}" ]; then
    for i in "${!pids[@]}"; do
      [ "${pids[$i]}" = "$ended" ] && [ "${exited[$i]}" -eq 0 ] || continue
      exited[$i]=1
      rm -f "$run_dir/${names[$i]}.pid"
      log "${names[$i]} (pid $ended) exited, $(describe_status "$rc"); the other processes keep running. Last lines of $logs/${names[$i]}.log:"
      tail -n 20 "$logs/${names[$i]}.log" | sed 's/^/    /' >&2
      if [ "${names[$i]}" = silo ] && [ "$has_gateway" -eq 1 ]; then
        log "the gateways keep serving the tenants they know from their snapshot (fail-static) until the silo is back"
      fi
      log "start it again with: $self_command --restart ${names[$i]}"
    done
  fi
  if [ "$restart_requested" -eq 1 ]; then
    restart_requested=0
    [ ! -e "$run_dir/restart.request" ] || handle_restart
  fi
done
