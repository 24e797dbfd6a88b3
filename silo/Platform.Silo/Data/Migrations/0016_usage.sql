-- Usage metering (Usage/UsageMeter.cs). Every connection row carries what of it has been counted so far: the counters
-- already added to usage_hours and the time up to which its connection-seconds were added (NULL: its opening is not
-- counted yet). A writer that changes a connection row (the tenant's connections grain, the bulk close of a gone
-- gateway) settles it in the same transaction: it adds the difference between the row and what was counted, then
-- marks the row counted. A batch applied twice raises no counter the second time, so it adds nothing; a connection
-- closed by the reaper keeps the counters last reported and gets its seconds up to the reaper's close.
ALTER TABLE connections
    ADD COLUMN metered_bytes_in      bigint NOT NULL DEFAULT 0,
    ADD COLUMN metered_bytes_out     bigint NOT NULL DEFAULT 0,
    ADD COLUMN metered_messages_in   bigint NOT NULL DEFAULT 0,
    ADD COLUMN metered_messages_out  bigint NOT NULL DEFAULT 0,
    ADD COLUMN metered_until         timestamptz;

-- One row per tenant, UTC hour and protocol. No foreign key: usage outlives a deleted tenant (billing).
-- connection_seconds of connections still open are added when they close; reads add the seconds of open connections
-- up to the time of the read. peak_concurrent is raised whenever the tenant's open count over the protocol changes.
CREATE TABLE usage_hours (
    tenant_id           uuid NOT NULL,
    hour                timestamptz NOT NULL,
    protocol            text NOT NULL,
    connection_seconds  numeric(20, 3) NOT NULL DEFAULT 0 CHECK (connection_seconds >= 0),
    peak_concurrent     bigint NOT NULL DEFAULT 0 CHECK (peak_concurrent >= 0),
    connections_opened  bigint NOT NULL DEFAULT 0 CHECK (connections_opened >= 0),
    messages_in         bigint NOT NULL DEFAULT 0 CHECK (messages_in >= 0),
    messages_out        bigint NOT NULL DEFAULT 0 CHECK (messages_out >= 0),
    bytes_in            bigint NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
    bytes_out           bigint NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
    PRIMARY KEY (tenant_id, hour, protocol)
);
CREATE INDEX usage_hours_hour_idx ON usage_hours (hour);

-- A tenant's open connections per protocol as last metered, and when that count last changed: the hours after the
-- change held at least that many (peaks of hours without a change are filled in at the next change, and at read time).
CREATE TABLE usage_open_counts (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    protocol    text NOT NULL,
    open_count  bigint NOT NULL CHECK (open_count >= 0),
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, protocol)
);
