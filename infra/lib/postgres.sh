# shellcheck shell=bash
# Shared helpers of infra/test.sh, infra/run.sh and the bench scripts: package installation and a
# private PostgreSQL instance (initdb, start, stop) run as the postgres user, loopback only. A new
# cluster trusts loopback (throwaway test and bench instances); pg_use_scram switches one to passwords.
# Source it; it defines functions and sets nothing else.

_platform_apt_updated=0

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PACKAGE... : installs with apt-get, running `apt-get update` at most once per script.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these packages by hand: $*"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install these packages by hand: $*"
    sudo=(sudo)
  fi
  if [ "$_platform_apt_updated" -eq 0 ]; then
    log "apt-get update"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed (is the Debian mirror reachable?)"
    _platform_apt_updated=1
  fi
  log "apt-get install -y $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
}

# pg_bin_dir : prints the bin directory of the newest installed PostgreSQL (or of version
# $PLATFORM_PG_VERSION when set, for a cluster created by that version), or nothing.
pg_bin_dir() {
  local dir
  if [ -n "${PLATFORM_PG_VERSION:-}" ]; then
    dir="/usr/lib/postgresql/$PLATFORM_PG_VERSION/bin"
  else
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
  fi
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    printf '%s\n' "$dir"
  fi
}

# pg_ensure_installed : installs the Debian postgresql package when no server binaries are present.
pg_ensure_installed() {
  if [ -z "$(pg_bin_dir)" ]; then
    apt_install postgresql
    [ -n "$(pg_bin_dir)" ] || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
  fi
}

# pg_as_owner CMD... : runs CMD as the postgres user when root (PostgreSQL refuses to run as root),
# otherwise as the current user. Paths given to it must be absolute: from a working directory the postgres user
# cannot enter (a checkout under /root), it runs from / instead, where PostgreSQL's tools do not warn.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (it comes with the postgresql package)"
    if runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
      runuser -u postgres -- "$@"
    else
      (cd / && runuser -u postgres -- "$@")
    fi
  else
    "$@"
  fi
}

# pg_blocked_at DIR : when root, prints the first directory on the way from / to DIR (DIR included) that the
# postgres user cannot enter (no search permission for it), or nothing when it can reach DIR. Directories that do
# not exist yet are not checked (mkdir creates them searchable). Prints nothing when not root: PostgreSQL then runs
# as the current user.
pg_blocked_at() {
  [ "$(id -u)" -eq 0 ] || return 0
  id postgres >/dev/null 2>&1 || return 0
  local path current="" part
  path=$(realpath -m -- "$1")
  runuser -u postgres -- test -x "$path" 2>/dev/null && return 0
  local -a parts
  IFS=/ read -ra parts <<<"${path#/}"
  for part in "" "${parts[@]}"; do
    [ -n "$part" ] && current="$current/$part"
    [ -e "${current:-/}" ] || return 0
    if ! runuser -u postgres -- test -x "${current:-/}" 2>/dev/null; then
      printf '%s\n' "${current:-/}"
      return 0
    fi
  done
}

# pg_describe_dir DIR : "mode drwx------, owner root" for messages.
pg_describe_dir() {
  stat -c 'mode %A, owner %U' -- "$1" 2>/dev/null || printf 'not readable'
}

# pg_port_in_use PORT : true when something accepts TCP connections on 127.0.0.1:PORT.
pg_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pg_free_port : prints a port in 40000..59999 that nothing listens on.
pg_free_port() {
  local port i
  for i in $(seq 1 50); do
    port=$((40000 + RANDOM % 20000))
    if ! pg_port_in_use "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  die "no free TCP port found in 40000-59999"
}

# pg_init DATA_DIR [EXTRA_SETTING...] : creates a cluster owned by the postgres user that listens on
# 127.0.0.1 only, trusts loopback TCP connections (until pg_use_scram) and has no Unix socket. Extra
# settings are lines appended to postgresql.conf (for example "fsync = off").
pg_init() {
  local data=$1; shift
  local bin; bin=$(pg_bin_dir)
  [ -n "$bin" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
  mkdir -p "$data"
  chmod 700 "$data"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$data"
    if ! pg_as_owner test -w "$data"; then
      local blocked; blocked=$(pg_blocked_at "$data")
      [ -z "$blocked" ] || die "the postgres user cannot write $data: it cannot enter $blocked ($(pg_describe_dir "$blocked")). PostgreSQL runs as postgres, which needs search (x) permission on every directory above its data; choose a location it can reach"
      die "the postgres user cannot write $data ($(pg_describe_dir "$data")); choose a location it can write"
    fi
  fi
  pg_as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$data.initdb.log" 2>&1 \
    || { cat "$data.initdb.log" >&2; die "initdb failed for $data"; }
  rm -f "$data.initdb.log"
  local setting
  {
    printf '\n# platform settings\n'
    printf "listen_addresses = '127.0.0.1'\n"
    printf "unix_socket_directories = ''\n"
    printf 'max_connections = 300\n'
    for setting in "$@"; do printf '%s\n' "$setting"; done
  } | pg_as_owner tee -a "$data/postgresql.conf" >/dev/null
  printf 'host all all 127.0.0.1/32 trust\n' | pg_as_owner tee "$data/pg_hba.conf" >/dev/null
}

# pg_use_scram DATA_DIR PASSWORD : switches a stopped cluster to password authentication only: SCRAM-SHA-256
# password hashes, PASSWORD (letters and digits) as the superuser's, and a pg_hba.conf whose one rule asks
# every loopback TCP connection for a password (no trust). The password is set in single-user mode, so the
# cluster never listens while it still trusts; it goes to the backend on stdin, never on a command line.
pg_use_scram() {
  local data=$1 password=$2
  local bin; bin=$(pg_bin_dir)
  [ -n "$bin" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
  [[ $password =~ ^[A-Za-z0-9]{16,}$ ]] || die "pg_use_scram: the password must be at least 16 letters and digits"
  ! pg_is_running "$data" || die "pg_use_scram: PostgreSQL in $data is running; stop it first"
  # A later line wins in postgresql.conf, so appending overrides an earlier setting.
  grep -qx "password_encryption = scram-sha-256" "$data/postgresql.conf" \
    || printf 'password_encryption = scram-sha-256\n' | pg_as_owner tee -a "$data/postgresql.conf" >/dev/null
  local errors
  # Single-user mode exits 0 even when a statement fails, so its log decides; log_min_error_statement keeps
  # the statement (and so the password) out of that log.
  errors=$(printf "ALTER ROLE postgres WITH PASSWORD '%s';\n" "$password" \
    | pg_as_owner "$bin/postgres" --single -D "$data" -c log_min_error_statement=panic postgres 2>&1 >/dev/null) \
    || die "PostgreSQL single-user mode failed in $data: $errors"
  if printf '%s\n' "$errors" | grep -qE '(ERROR|FATAL|PANIC):'; then
    die "setting the superuser password in $data failed: $errors"
  fi
  printf '# platform: passwords (SCRAM-SHA-256) only, loopback TCP only\nhost all all 127.0.0.1/32 scram-sha-256\n' \
    | pg_as_owner tee "$data/pg_hba.conf" >/dev/null
}

# pg_start DATA_DIR PORT LOG_FILE : starts the cluster on PORT and waits until it accepts connections.
pg_start() {
  local data=$1 port=$2 logfile=$3
  local bin; bin=$(pg_bin_dir)
  if pg_port_in_use "$port"; then
    die "port $port on 127.0.0.1 is already in use"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    touch "$logfile"
    chown postgres "$logfile"
  fi
  pg_as_owner "$bin/pg_ctl" -D "$data" -l "$logfile" -o "-p $port" -w -t 60 start >/dev/null \
    || { tail -n 30 "$logfile" >&2 || true; die "PostgreSQL did not start (data $data, port $port, log $logfile)"; }
}

# pg_stop DATA_DIR : stops the cluster if it runs; never fails.
pg_stop() {
  local data=$1
  local bin; bin=$(pg_bin_dir)
  if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
    pg_as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || pg_as_owner "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 \
      || printf 'warning: could not stop PostgreSQL in %s\n' "$data" >&2
  fi
}

# pg_is_running DATA_DIR : true when the cluster's postmaster is alive.
pg_is_running() {
  local bin; bin=$(pg_bin_dir)
  [ -n "$bin" ] && [ -f "$1/postmaster.pid" ] && pg_as_owner "$bin/pg_ctl" -D "$1" status >/dev/null 2>&1
}
