# shellcheck shell=bash
# The cluster CA of infra/run.sh: a private CA (EC P-256) whose certificates authenticate both ends of every
# Orleans connection (silo to silo, gateway to silo). See docs/cluster-transport.md.
# Source it after infra/lib/postgres.sh (log, die); it defines functions and sets nothing else.
#
# Layout of the CA directory (mode 700, every key mode 600):
#   ca.key, ca.crt     the CA; its key never leaves this directory and no process is given it
#   ca-bundle.crt      the CAs the processes trust (CaPath): ca.crt is added when it is not in it, nothing is ever
#                      removed, so during a rotation it holds the old and the new CA until the operator drops the old
#   NAME.key, NAME.crt a leaf: silo (server and client authentication), gateway-N (client authentication)

# Days a leaf certificate of infra/run.sh is valid, and how close to its end it is issued again.
cluster_ca_leaf_days=365
cluster_ca_renew_seconds=$((30 * 24 * 3600))

# cluster_ca_init DIR : creates the CA in DIR when it has none. An existing CA is kept as it is.
cluster_ca_init() {
  local dir=$1
  command -v openssl >/dev/null 2>&1 || die "openssl not found (Debian package openssl)"
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ -f "$dir/ca.crt" ] && [ ! -f "$dir/ca.key" ]; then
    die "$dir/ca.crt has no ca.key beside it: restore the key, or move ca.crt away to create a new cluster CA (every silo and gateway then needs a new certificate)"
  fi
  if [ ! -f "$dir/ca.crt" ]; then
    log "creating the cluster CA in $dir"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key.tmp" 2>/dev/null) \
      || die "openssl could not create the cluster CA key"
    mv -f "$dir/ca.key.tmp" "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=Platform cluster CA $(date -u +%Y-%m-%d) $(openssl rand -hex 4)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" -out "$dir/ca.crt.tmp" 2>/dev/null || die "openssl could not create the cluster CA certificate"
    mv -f "$dir/ca.crt.tmp" "$dir/ca.crt"
  fi
  chmod 600 "$dir/ca.key"
  # The bundle compared as one line of base64: it holds ca.crt when ca.crt's body appears in it.
  local body
  body=$(sed '/^-----/d' "$dir/ca.crt" | tr -d '\r\n')
  if [ ! -s "$dir/ca-bundle.crt" ] || [[ "$(tr -d '\r\n' <"$dir/ca-bundle.crt")" != *"$body"* ]]; then
    [ ! -s "$dir/ca-bundle.crt" ] || log "adding the current cluster CA to $dir/ca-bundle.crt (the CAs already there stay)"
    { if [ -s "$dir/ca-bundle.crt" ]; then cat "$dir/ca-bundle.crt"; echo; fi; cat "$dir/ca.crt"; } >"$dir/ca-bundle.crt.tmp" \
      && mv -f "$dir/ca-bundle.crt.tmp" "$dir/ca-bundle.crt" || die "could not write $dir/ca-bundle.crt"
  fi
}

# cluster_ca_leaf_current DIR NAME : NAME.crt and NAME.key exist, belong together, were issued by the current CA and
# stay valid for more than 30 days.
cluster_ca_leaf_current() {
  local dir=$1 name=$2
  [ -s "$dir/$name.crt" ] && [ -s "$dir/$name.key" ] || return 1
  openssl x509 -in "$dir/$name.crt" -noout -checkend "$cluster_ca_renew_seconds" >/dev/null 2>&1 || return 1
  openssl verify -CAfile "$dir/ca.crt" "$dir/$name.crt" >/dev/null 2>&1 || return 1
  [ "$(openssl x509 -in "$dir/$name.crt" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$dir/$name.key" -pubout 2>/dev/null)" ]
}

# cluster_ca_leaf DIR NAME USAGES : issues NAME.crt and NAME.key from the CA of DIR unless the current pair is still
# good (cluster_ca_leaf_current). USAGES is the extended key usage: "serverAuth,clientAuth" for a silo,
# "clientAuth" for a gateway.
cluster_ca_leaf() {
  local dir=$1 name=$2 usages=$3
  if cluster_ca_leaf_current "$dir" "$name"; then
    return 0
  fi
  log "issuing the cluster certificate $dir/$name.crt ($usages, $cluster_ca_leaf_days days)"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key.tmp" 2>/dev/null) \
    || die "openssl could not create the key of $name"
  openssl req -new -key "$dir/$name.key.tmp" -subj "/CN=$name" -out "$dir/$name.csr.tmp" 2>/dev/null \
    || die "openssl could not create the request of $name"
  openssl x509 -req -in "$dir/$name.csr.tmp" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$cluster_ca_leaf_days" -sha256 \
    -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=$usages" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid") \
    -out "$dir/$name.crt.tmp" 2>/dev/null || die "openssl could not issue the certificate of $name"
  rm -f "$dir/$name.csr.tmp"
  # The key first: a certificate never sits beside a key that is not its own for longer than one rename.
  mv -f "$dir/$name.key.tmp" "$dir/$name.key"
  mv -f "$dir/$name.crt.tmp" "$dir/$name.crt"
}
