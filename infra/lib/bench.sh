# shellcheck shell=bash
# Shared set-up of the benchmark scripts that run the platform as separate processes (bench-gateway.sh,
# bench-dtls.sh): a work folder removed on exit with every process started, the Release builds, a throwaway
# PostgreSQL, the silo, a REST helper and a test certificate. Sourced after infra/lib/postgres.sh, with $root
# set to the repository.

# shellcheck source=infra/lib/cluster-ca.sh
source "$root/infra/lib/cluster-ca.sh"

pids=()
# The operator's egress setting for the silo and the gateways of a benchmark: loopback backends allowed.
bench_egress_env=("Platform__Egress__AllowedRanges__0=127.0.0.0/8")
# Every silo the benchmarks start serves its admin endpoints on a port of its own choosing: the default, 5081, may
# be taken by another instance on the same machine.
bench_silo_env=("Platform__AdminUrls=http://127.0.0.1:0")
# bench_cleanup : stops every process started with bench_start (and any daemon whose pid file is in the work
# folder), the PostgreSQL, and removes the work folder; after a failure it first shows the end of every process's log.
bench_cleanup() {
  local rc=$?
  local pid file
  if [ "$rc" -ne 0 ]; then
    for file in "$work"/*.log; do
      [ -f "$file" ] || continue
      printf '\n--- last lines of %s\n' "$(basename "$file")" >&2
      tail -n 40 "$file" >&2 || true
    done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for file in "$work"/*.pid; do
    if [ -f "$file" ]; then kill -TERM "$(cat "$file")" 2>/dev/null || true; fi
  done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  pg_stop "$work/pg"
  rm -rf "$work"
  exit "$rc"
}

# bench_init NAME PROJECT... : creates the work folder (in $work), installs the exit traps, builds the projects in
# Release, starts PostgreSQL with a database `platform`, and starts the silo (sets silo_url, operator_key,
# cluster_endpoint: the silo's Orleans gateway port, which gateways connect to; gateway_secrets: a secrets directory
# with a snapshot key for the gateways the benchmark starts).
bench_init() {
  local name=$1; shift
  command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dot.net) and retry"
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  command -v curl >/dev/null 2>&1 || apt_install curl
  pg_ensure_installed

  work=$(mktemp -d "${TMPDIR:-/tmp}/platform-$name.XXXXXX")
  chmod 755 "$work"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  local project
  for project in silo/Platform.Silo gateway/Platform.Gateway "$@"; do
    log "building $project"
    dotnet build "$project" -c Release -nologo -v:quiet -clp:ErrorsOnly >&2 || die "build of $project failed"
  done

  log "starting PostgreSQL"
  pg_init "$work/pg"
  local pg_port
  pg_port=$(pg_free_port)
  pg_start "$work/pg" "$pg_port" "$work/postgres.log"
  "$(pg_bin_dir)/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE platform' >/dev/null

  operator_key="op_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  silo_url="http://127.0.0.1:$(pg_free_port)"
  local cluster_silo_port cluster_gateway_port
  cluster_silo_port=$(pg_free_port); cluster_gateway_port=$(pg_free_port)
  cluster_endpoint="127.0.0.1:$cluster_gateway_port"
  gateway_secrets="$work/gateway-secrets"
  mkdir -m 700 "$gateway_secrets"
  (umask 077 && head -c 32 /dev/urandom | base64 -w0 >"$gateway_secrets/Platform__SnapshotKey")
  # A cluster CA of this run: the silo's certificate and one every gateway of the benchmark presents.
  cluster_ca_init "$work/cluster-ca"
  cluster_ca_leaf "$work/cluster-ca" silo serverAuth,clientAuth
  cluster_ca_leaf "$work/cluster-ca" gateway clientAuth
  bench_cluster_tls() {
    printf '%s\n' "Platform__Cluster__Tls__CertificatePath=$work/cluster-ca/$1.crt" \
      "Platform__Cluster__Tls__KeyPath=$work/cluster-ca/$1.key" "Platform__Cluster__Tls__CaPath=$work/cluster-ca/ca-bundle.crt"
  }
  mapfile -t bench_gateway_tls < <(bench_cluster_tls gateway)
  local silo_tls
  mapfile -t silo_tls < <(bench_cluster_tls silo)
  # The benchmarks' echo backends listen on loopback, which the egress policy refuses by default: allow it here, and
  # on every gateway the benchmarks start (bench_egress_env).
  # shellcheck disable=SC2154 # root is the caller's
  bench_start silo "$root/silo/Platform.Silo/bin/Release/net10.0" env "${bench_egress_env[@]}" "${bench_silo_env[@]}" \
    "Platform__ConnectionString=Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=platform" \
    "Platform__MasterKey=$(head -c 32 /dev/urandom | base64 -w0)" "Platform__OperatorKey=$operator_key" \
    "Platform__Cluster__SiloPort=$cluster_silo_port" \
    "Platform__Cluster__GatewayPort=$cluster_gateway_port" "${silo_tls[@]}" "Urls=$silo_url" dotnet Platform.Silo.dll
  bench_wait_for "the silo" curl -fsS "$silo_url/healthz"
}

# bench_start NAME DIR COMMAND... : a background process with its output in the work folder; its pid in NAME_pid.
bench_start() {
  local name=$1 dir=$2; shift 2
  (cd "$dir" && exec "$@") >"$work/$name.log" 2>&1 &
  pids+=("$!")
  eval "${name}_pid=$!"
}

# bench_wait_for WHAT COMMAND... : retries COMMAND for 120 s; fails with the logs' tails.
bench_wait_for() {
  local what=$1; shift
  for _ in $(seq 1 240); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  tail -n 30 "$work"/*.log >&2 || true
  die "$what did not come up within 120 s"
}

# bench_rest METHOD PATH BODY : a REST call with the operator key; fails loudly on any status outside 2xx.
bench_rest() {
  local out status
  out=$(mktemp -p "$work")
  status=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $operator_key" \
    -H 'Content-Type: application/json' --data-binary "$3" "$silo_url$2")
  [[ "$status" == 2* ]] || { cat "$out" >&2; die "$1 $2 answered $status"; }
  cat "$out"
}

# bench_certificate SLUG HOST : an ECDSA P-256 certificate for HOST ($work/cert.pem, $work/key.pem), uploaded to
# the tenant; sets cert_thumbprint (SHA-256, hex).
bench_certificate() {
  log "certificate for $2 (ECDSA P-256)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  # shellcheck disable=SC2034 # read by the caller
  cert_thumbprint=$(openssl x509 -in "$work/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g')
  local pem
  pem=$(cat "$work/cert.pem" "$work/key.pem" | sed ':a;N;$!ba;s/\n/\\n/g')
  bench_rest POST "/v1/tenants/$1/certificates" "{\"pem\":\"$pem\"}" >/dev/null
  # A certificate's names route only once proven; the operator approves this one, as for any name it vouches for.
  bench_rest POST "/v1/tenants/$1/host-names/$2/approve" "{}" >/dev/null
}

# bench_dtls_tenants NAME UDP-PORT : the DTLS benchmarks' tenants, as NAME in their display names. "bench" (echo)
# with connection IDs and heartbeats turned on (at the longest interval, so none is sent during a run): a client that
# offers either is served by the gateway's BouncyCastle engine, every other one by OpenSSL; its ECDSA P-256 certificate
# for bench.platform.localhost (its own platform name, {slug}.<domain>, routed by SNI without proof) and the PSK
# identity dev1. "fwd" delivers by `forward` to a UDP backend on 127.0.0.1:UDP-PORT, with its own dev1. Both allow
# 100000 sessions (the plan above the default 1000) and keep idle ones (no idle timeout; the DTLS idle timeout, which
# cannot be turned off, at its maximum). Sets server_name, psk_key and fwd_key (hex).
bench_dtls_tenants() {
  local quiet plan bc_features
  quiet='"limits":{"maxConnections":100000},"timeouts":{"idleTimeoutSeconds":0,"dtlsIdleTimeoutSeconds":604800}'
  plan='"plan":{"maxConnections":100000,"connectionsPerSecond":100000}'
  bc_features='"dtls":{"connectionIds":{"enabled":true,"length":8},"heartbeatIntervalSeconds":3600,"heartbeatTimeoutSeconds":30}'
  bench_rest POST /v1/tenants "{\"slug\":\"bench\",\"displayName\":\"$1 echo\",$plan,\"config\":{$quiet,$bc_features}}" >/dev/null
  bench_rest POST /v1/tenants "{\"slug\":\"fwd\",\"displayName\":\"$1 forward\",$plan,\"config\":{$quiet,\"delivery\":{\"mode\":\"forward\",\"forward\":{\"host\":\"127.0.0.1\",\"port\":$2,\"protocol\":\"udp\"}}}}" >/dev/null
  server_name=bench.platform.localhost
  bench_certificate bench "$server_name"
  log "PSK identities bench/dev1 and fwd/dev1"
  psk_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fwd_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  bench_rest POST /v1/tenants/bench/psk-identities "{\"identity\":\"dev1\",\"key\":\"$psk_key\"}" >/dev/null
  bench_rest POST /v1/tenants/fwd/psk-identities "{\"identity\":\"dev1\",\"key\":\"$fwd_key\"}" >/dev/null
}

# bench_machine : what the figures depend on, to standard error.
bench_machine() {
  echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus        $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
  echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "load        $(cut -d' ' -f1-3 /proc/loadavg) at start"
  echo "runtime     $(dotnet --list-runtimes | grep AspNetCore | tail -1)"
} >&2
