-- Lifecycle events (connected, disconnected): an outbox written in the same transaction as the connection state
-- change that causes it (Connections/Live/TenantConnectionsGrain.cs for a gateway's batches, Internal/GatewayConnections.cs
-- for the bulk closes of a gateway that died, left or restarted), so an event exists exactly when its change does.
-- Every tenant numbers its events 1, 2, 3, ... without gaps: the counter row is updated in the writing transaction,
-- after that transaction locked the tenant's tenant_connection_versions row, so two writers never interleave numbers.
CREATE TABLE tenant_event_sequences (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    last_sequence  bigint NOT NULL CHECK (last_sequence >= 0)
);

-- One row per event with its delivery state to the tenant's webhook. The sender (Events/WebhookSender.cs) works a
-- tenant's pending events in sequence order, one at a time (head of line), so per-connection order holds.
CREATE TABLE tenant_events (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sequence         bigint NOT NULL CHECK (sequence >= 1),
    id               uuid NOT NULL UNIQUE,
    type             text NOT NULL CHECK (type IN ('connected', 'disconnected')),
    connection_id    text NOT NULL,
    protocol         text NOT NULL,
    remote_address   text NOT NULL,
    remote_port      integer NOT NULL,
    close_code       integer,
    close_reason     text,
    occurred_at      timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status      integer,
    last_error       text,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz NOT NULL,
    delivered_at     timestamptz,
    PRIMARY KEY (tenant_id, sequence)
);
CREATE INDEX tenant_events_due_idx ON tenant_events (next_attempt_at, tenant_id) WHERE state = 'pending';
CREATE INDEX tenant_events_pending_idx ON tenant_events (tenant_id, sequence) WHERE state = 'pending';
CREATE INDEX tenant_events_recorded_idx ON tenant_events (recorded_at);

-- Which silo sends a tenant's stream, until when (a lease claimed FOR UPDATE SKIP LOCKED and renewed before every
-- request; a silo that dies lets it lapse), and the webhook URL that last passed the validation handshake.
CREATE TABLE webhook_streams (
    tenant_id         uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    lease_token       uuid,
    lease_holder      text,
    lease_expires_at  timestamptz,
    validated_url     text,
    validated_at      timestamptz
);
