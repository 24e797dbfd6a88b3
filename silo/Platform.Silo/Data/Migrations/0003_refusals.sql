-- Connections refused by gateways, per minute, as the gateways report them with their heartbeats.
-- Pruned after Platform:RefusalRetentionDays by the reaper.
CREATE TABLE refusal_counts (
    minute     timestamptz NOT NULL,              -- start of the UTC minute
    tenant_id  uuid REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: the gateway resolved no tenant
    protocol   text NOT NULL,                     -- '' when the refusing gateway did not record it
    reason     text NOT NULL,
    count      bigint NOT NULL CHECK (count > 0),
    CONSTRAINT refusal_counts_key UNIQUE NULLS NOT DISTINCT (minute, tenant_id, protocol, reason)
);
CREATE INDEX refusal_counts_tenant_idx ON refusal_counts (tenant_id, minute);

-- Last refusal batch applied for the node's current registration: a batch re-sent after a lost answer is skipped.
ALTER TABLE gateway_nodes ADD COLUMN refusal_sequence bigint NOT NULL DEFAULT 0;
