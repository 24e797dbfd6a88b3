#!/usr/bin/env bash
# Runs the platform on this machine: a private PostgreSQL under .data/postgres (kept between
# runs), the silo, and the gateway and admin portal when they are part of the checkout.
# Ctrl-C stops everything. Settings (environment, all optional):
#   PLATFORM_DATA_DIR   where PostgreSQL data, secrets and logs live   (default <repo>/.data)
#   PLATFORM_PG_PORT    port of the private PostgreSQL                  (default 55433)
#   PLATFORM_SILO_PORT  port of the silo REST API                       (default 5080)
#   PLATFORM_PORTAL_PORT port of the admin portal                       (default 5000)
# Secrets never reach a process through its environment or command line (both readable under /proc):
# each app reads its own directory under .data/secrets (PLATFORM_SECRETS_DIR, one file per setting), and
# PostgreSQL asks every connection for a password (SCRAM-SHA-256); the silo signs in as the role
# `platform`, which owns the database and nothing more.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=infra/lib/postgres.sh
source "$root/infra/lib/postgres.sh"

data_dir=${PLATFORM_DATA_DIR:-$root/.data}
pg_port=${PLATFORM_PG_PORT:-55433}
silo_port=${PLATFORM_SILO_PORT:-5080}
portal_port=${PLATFORM_PORTAL_PORT:-5000}
silo_url="http://127.0.0.1:$silo_port"
portal_url="http://127.0.0.1:$portal_port"
pg_data="$data_dir/postgres"
logs="$data_dir/logs"
secrets_dir="$data_dir/secrets"
silo_secrets="$secrets_dir/silo"
# Superuser password, for this script's bootstrap only, in the format libpq reads (PGPASSFILE).
pg_superuser_pgpass="$data_dir/postgres-superuser.pgpass"
# Password of the role `platform` the silo signs in as.
pg_platform_password_file="$data_dir/postgres-platform.password"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

pids=()
names=()
pg_started=0
stopping=0
shutdown() {
  local rc=$?
  [ "$stopping" -eq 0 ] || return 0
  stopping=1
  # A second Ctrl-C must not cut the orderly stop short (and leave PostgreSQL running).
  trap '' INT TERM
  # Newest first: the portal and the gateway stop while the silo still answers, so the gateway can
  # send its last connection events and give back its leases.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -0 "${pids[$i]}" 2>/dev/null || continue
    log "stopping ${names[$i]} (pid ${pids[$i]})"
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    local waited=0
    while kill -0 "${pids[$i]}" 2>/dev/null && [ "$waited" -lt 150 ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      log "${names[$i]} did not stop in 15 s; killing it"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
  if [ "$pg_started" -eq 1 ]; then
    log "stopping PostgreSQL"
    pg_stop "$pg_data"
  fi
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

# start_app NAME PROJECT_DIR ENV... : starts the built app of PROJECT_DIR in the background, output to logs/NAME.log.
start_app() {
  local name=$1 project_dir=$2; shift 2
  local assembly; assembly=$(basename "$project_dir")
  local out="$root/$project_dir/bin/Release/net10.0"
  [ -f "$out/$assembly.dll" ] || die "$out/$assembly.dll not found after the build"
  : >"$logs/$name.log"
  # The output folder is the content root, so the app finds its appsettings.json. Its own session keeps
  # a terminal's Ctrl-C away from it: this script stops the apps itself, in order.
  # Settings that would carry a secret are dropped from what the app inherits; it reads its own from files.
  (cd "$out" && exec setsid env -u Platform__ConnectionString -u Platform__MasterKey -u Platform__OperatorKey \
    -u Platform__ClusterSecret -u PGPASSWORD -u PGPASSFILE "$@" dotnet "$assembly.dll") >>"$logs/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
  log "$name started (pid $!, log $logs/$name.log)"
}

# alive_or_die NAME PID : fails with the tail of the app's log when it has exited.
alive_or_die() {
  if ! kill -0 "$2" 2>/dev/null; then
    tail -n 40 "$logs/$1.log" >&2 || true
    die "$1 exited during start-up; log: $logs/$1.log"
  fi
}

log "checking tools"
command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
# The silo refuses wildcards directly under a public suffix, and stops at start without the list (Platform:PublicSuffixListPath).
[ -f /usr/share/publicsuffix/public_suffix_list.dat ] || apt_install publicsuffix
pg_ensure_installed
mkdir -p "$data_dir" "$logs"
chmod 755 "$data_dir"

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
# Runs before this one kept the three keys in .data/secrets.env, passed as environment variables. They move
# into the silo's directory (the master key must stay: it decrypts the stored certificates and PSKs), and the
# old file goes once its keys are there, so no second copy remains.
legacy_secrets="$data_dir/secrets.env"
if [ -f "$legacy_secrets" ]; then
  log "moving the keys of $legacy_secrets to $silo_secrets"
  for pair in PLATFORM_MASTER_KEY:Platform__MasterKey PLATFORM_OPERATOR_KEY:Platform__OperatorKey PLATFORM_CLUSTER_SECRET:Platform__ClusterSecret; do
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
  log "generating the master key, operator key and cluster secret in $silo_secrets"
  write_secret "$silo_secrets/Platform__MasterKey" "$(head -c 32 /dev/urandom | base64 -w0)"
fi
[ -s "$silo_secrets/Platform__OperatorKey" ] || write_secret "$silo_secrets/Platform__OperatorKey" "op_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[ -s "$silo_secrets/Platform__ClusterSecret" ] || write_secret "$silo_secrets/Platform__ClusterSecret" "cs_$(new_password)"
operator_key=$(<"$silo_secrets/Platform__OperatorKey")
cluster_secret=$(<"$silo_secrets/Platform__ClusterSecret")

port_busy_or_die "$silo_port" "silo"
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
  pg_start "$pg_data" "$pg_port" "$logs/postgres.log"
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

# The gateway and the portal get their own directories, rewritten whole on every run, each with only
# what that process needs: the gateway never sees the master key, the operator key or the connection string.
gateway_secrets="$secrets_dir/gateway"
portal_secrets="$secrets_dir/portal"
rm -rf "$gateway_secrets" "$portal_secrets"
secret_dir "$gateway_secrets"
secret_dir "$portal_secrets"
write_secret "$gateway_secrets/Platform__ClusterSecret" "$cluster_secret"
write_secret "$portal_secrets/Platform__OperatorKey" "$operator_key"
unset cluster_secret

apps=(silo/Platform.Silo)
[ -f gateway/Platform.Gateway/Platform.Gateway.csproj ] && apps+=(gateway/Platform.Gateway)
[ -f admin-web/Platform.AdminWeb/Platform.AdminWeb.csproj ] && apps+=(admin-web/Platform.AdminWeb)
for app in "${apps[@]}"; do
  log "building $app"
  dotnet build "$app" -c Release -nologo -v:quiet -clp:ErrorsOnly || die "build of $app failed"
done

# Tenants' forward targets and webhook URLs may not reach loopback, private, link-local (cloud metadata) or other
# internal addresses; this private instance keeps that default. To let tenants reach, say, a backend on this machine,
# give the silo and the gateway the same ranges in their environment below, for example:
#   "Platform__Egress__AllowedRanges__0=127.0.0.0/8"   (and DeniedRanges__0=... to refuse more)
start_app silo silo/Platform.Silo "PLATFORM_SECRETS_DIR=$silo_secrets" "Urls=$silo_url"
silo_pid=${pids[-1]}

log "waiting for $silo_url/healthz"
for _ in $(seq 1 240); do
  alive_or_die silo "$silo_pid"
  if curl -fsS -o /dev/null "$silo_url/healthz" 2>/dev/null; then break; fi
  sleep 0.5
done
curl -fsS -o /dev/null "$silo_url/healthz" || die "silo did not answer $silo_url/healthz within 120 s; log: $logs/silo.log"

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

if [[ " ${apps[*]} " == *" gateway/Platform.Gateway "* ]]; then
  start_app gateway gateway/Platform.Gateway "PLATFORM_SECRETS_DIR=$gateway_secrets" "Platform__SiloUrl=$silo_url"
fi
if [[ " ${apps[*]} " == *" admin-web/Platform.AdminWeb "* ]]; then
  port_busy_or_die "$portal_port" "admin portal"
  # AllowedHosts: the portal answers only to the address printed below (another Host header gets 400).
  start_app portal admin-web/Platform.AdminWeb "PLATFORM_SECRETS_DIR=$portal_secrets" "Platform__SiloUrl=$silo_url" \
    "Urls=$portal_url" "AllowedHosts=127.0.0.1"
fi
sleep 2
for i in "${!pids[@]}"; do alive_or_die "${names[$i]}" "${pids[$i]}"; done

cat <<INFO

Platform is running. Ctrl-C stops it; data stays in $data_dir.
  silo REST API     $silo_url          (OpenAPI: $silo_url/openapi/v1.json)
INFO
if [[ " ${names[*]} " == *" portal "* ]]; then
  printf '  admin portal      %s\n' "$portal_url"
  if [ -n "$operator_password" ]; then
    printf '  portal sign-in    admin / %s   (shown once; stored hashed)\n' "$operator_password"
  fi
else
  printf '  admin portal      (not in this checkout)\n'
fi
if [[ " ${names[*]} " == *" gateway "* ]]; then
  cat <<INFO
  gateway ws / wss  ws://127.0.0.1:8080  wss://127.0.0.1:8443
  gateway TLS       127.0.0.1:7443 (SNI routed)
  gateway DTLS      127.0.0.1:5684/udp (SNI / PSK routed)
  gateway internal  http://127.0.0.1:5090
INFO
else
  printf '  gateway           (not in this checkout)\n'
fi
cat <<INFO
  PostgreSQL        Host=127.0.0.1;Port=$pg_port;Username=platform;Database=platform
                    (password in $pg_platform_password_file; superuser's in $pg_superuser_pgpass)
  operator key      in $silo_secrets/Platform__OperatorKey
                    curl -H "Authorization: Bearer \$(cat $silo_secrets/Platform__OperatorKey)" $silo_url/v1/tenants
  secrets           $secrets_dir (one directory per process)
  logs              $logs
INFO

# Any app exiting ends the run, so nothing keeps running half-started.
set +e
wait -n "${pids[@]}"
rc=$?
set -e
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    log "${names[$i]} exited (status $rc); stopping the rest. Last lines of its log:"
    tail -n 20 "$logs/${names[$i]}.log" >&2 || true
  fi
done
exit 1
