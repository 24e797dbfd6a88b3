-- Every change to what gateways serve takes a value from this sequence; gateways watch it.
CREATE SEQUENCE config_revision_seq AS bigint START 1;

CREATE TABLE tenants (
    id               uuid PRIMARY KEY,
    slug             text NOT NULL UNIQUE,
    display_name     text NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'suspended')),
    revision         bigint NOT NULL,          -- last change of anything gateways see
    config_revision  bigint NOT NULL,          -- current row in tenant_configs; the config ETag
    max_connections  integer NOT NULL CHECK (max_connections BETWEEN 1 AND 100000),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX tenants_revision_idx ON tenants (revision);

CREATE TABLE tenant_configs (
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    revision            bigint NOT NULL,
    config              jsonb NOT NULL,         -- never holds the webhook secret
    webhook_secret_enc  bytea,                  -- AES-GCM under the master key
    actor               text NOT NULL,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, revision)
);

-- A host name routes to at most one tenant; rebuilt per tenant whenever its names change.
CREATE TABLE host_name_claims (
    host_name  text PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX host_name_claims_tenant_idx ON host_name_claims (tenant_id);

CREATE TABLE certificates (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject          text NOT NULL,
    issuer           text NOT NULL,
    thumbprint       text NOT NULL,
    host_names       text[] NOT NULL,
    not_before       timestamptz NOT NULL,
    not_after        timestamptz NOT NULL,
    key_algorithm    text NOT NULL,
    chain_pem        text NOT NULL,
    private_key_enc  bytea NOT NULL,            -- PKCS#8, AES-GCM under the master key
    created_at       timestamptz NOT NULL
);
CREATE INDEX certificates_tenant_idx ON certificates (tenant_id);
CREATE INDEX certificates_not_after_idx ON certificates (not_after);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    prefix        text NOT NULL,
    secret_hash   bytea NOT NULL,               -- SHA-256 of the 256-bit random secret
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

CREATE TABLE psk_identities (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identity    text NOT NULL,
    key_enc     bytea NOT NULL,                 -- AES-GCM under the master key
    created_at  timestamptz NOT NULL,
    UNIQUE (tenant_id, identity)
);

CREATE TABLE dedicated_ports (
    port        integer PRIMARY KEY CHECK (port BETWEEN 1 AND 65535),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    protocol    text NOT NULL CHECK (protocol IN ('tcp', 'tls', 'dtls')),
    created_at  timestamptz NOT NULL
);
CREATE INDEX dedicated_ports_tenant_idx ON dedicated_ports (tenant_id);

-- Deleted tenants, so that incremental watches learn of removals.
CREATE TABLE tenant_tombstones (
    tenant_id   uuid PRIMARY KEY,
    revision    bigint NOT NULL,
    deleted_at  timestamptz NOT NULL
);
CREATE INDEX tenant_tombstones_revision_idx ON tenant_tombstones (revision);

-- Watches with a cursor below the horizon get a full snapshot (tombstones older than it were pruned).
CREATE TABLE config_horizon (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    min_revision  bigint NOT NULL
);
INSERT INTO config_horizon (singleton, min_revision) VALUES (true, 0);

CREATE TABLE gateway_nodes (
    id                 text PRIMARY KEY,
    version            text NOT NULL,
    internal_url       text NOT NULL,
    listeners          text[] NOT NULL,
    status             text NOT NULL CHECK (status IN ('up', 'draining', 'dead')),
    started_at         timestamptz NOT NULL,
    last_heartbeat_at  timestamptz NOT NULL,
    config_revision    bigint NOT NULL DEFAULT 0,
    open_connections   bigint NOT NULL DEFAULT 0,
    drain_deadline     timestamptz,
    dead_at            timestamptz
);

-- Slots of a tenant's MaxConnections held by a gateway. The sum per tenant never exceeds the
-- tenant's max_connections at grant time; rows of dead gateways are deleted by the reaper.
CREATE TABLE quota_leases (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    gateway_id  text NOT NULL REFERENCES gateway_nodes (id) ON DELETE CASCADE,
    slots       integer NOT NULL CHECK (slots > 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, gateway_id)
);
CREATE INDEX quota_leases_gateway_idx ON quota_leases (gateway_id);

CREATE TABLE connections (
    id                text PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    gateway_id        text NOT NULL,
    protocol          text NOT NULL,
    remote_address    text NOT NULL,
    remote_port       integer NOT NULL,
    local_port        integer NOT NULL,
    opened_at         timestamptz NOT NULL,
    closed_at         timestamptz,
    close_code        integer,
    close_reason      text,
    bytes_in          bigint NOT NULL DEFAULT 0,
    bytes_out         bigint NOT NULL DEFAULT 0,
    messages_in       bigint NOT NULL DEFAULT 0,
    messages_out      bigint NOT NULL DEFAULT 0,
    last_activity_at  timestamptz NOT NULL,
    tls               jsonb,
    websocket         jsonb
);
CREATE INDEX connections_open_tenant_idx ON connections (tenant_id, opened_at) WHERE closed_at IS NULL;
CREATE INDEX connections_open_gateway_idx ON connections (gateway_id) WHERE closed_at IS NULL;
CREATE INDEX connections_closed_at_idx ON connections (closed_at) WHERE closed_at IS NOT NULL;

CREATE TABLE audit_log (
    id               bigserial PRIMARY KEY,
    at               timestamptz NOT NULL,
    actor            text NOT NULL,
    tenant_id        uuid,                      -- no foreign key: entries outlive their tenant
    tenant_slug      text,
    action           text NOT NULL,
    target           text,
    revision_before  bigint,
    revision_after   bigint,
    details          jsonb
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
