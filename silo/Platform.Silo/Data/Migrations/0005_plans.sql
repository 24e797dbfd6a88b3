-- What each tenant may use, set by operators (Platform.Contracts.Plans.TenantPlan). Configuration values above a
-- ceiling are refused, gateways apply the tenant's values capped by it, and counts bound what the tenant may create.
-- A tenant without a row has the default plan.
CREATE TABLE tenant_plans (
    tenant_id                 uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    max_connections           integer NOT NULL CHECK (max_connections BETWEEN 1 AND 100000),
    connections_per_second    integer NOT NULL CHECK (connections_per_second BETWEEN 1 AND 100000),
    max_message_size          integer NOT NULL CHECK (max_message_size BETWEEN 256 AND 16777216),
    max_half_open_handshakes  integer NOT NULL CHECK (max_half_open_handshakes BETWEEN 1 AND 100000),
    dedicated_ports           integer NOT NULL CHECK (dedicated_ports BETWEEN 0 AND 1000),
    certificates              integer NOT NULL CHECK (certificates BETWEEN 0 AND 1000),
    psk_identities            integer NOT NULL CHECK (psk_identities BETWEEN 0 AND 1000000),
    api_keys                  integer NOT NULL CHECK (api_keys BETWEEN 0 AND 1000),
    host_names                integer NOT NULL CHECK (host_names BETWEEN 0 AND 1000),
    updated_at                timestamptz NOT NULL
);

-- Every existing tenant gets the default plan (TenantPlan's defaults), except that a ceiling its current
-- configuration is already above is raised to that value: the upgrade itself takes nothing from a running tenant.
-- Operators review and lower plans afterwards; counts above the defaults are kept as they are (only new ones are refused).
INSERT INTO tenant_plans (tenant_id, max_connections, connections_per_second, max_message_size, max_half_open_handshakes,
                          dedicated_ports, certificates, psk_identities, api_keys, host_names, updated_at)
SELECT t.id,
       GREATEST(1000, t.max_connections),
       GREATEST(1000, COALESCE((c.config #>> '{limits,connectionsPerSecond}')::integer, 0)),
       LEAST(16777216, GREATEST(1048576,
           COALESCE((c.config #>> '{webSocket,maxMessageSize}')::integer, 0),
           COALESCE((c.config #>> '{framing,maxLineLength}')::integer, 0),
           COALESCE((c.config #>> '{framing,recordLength}')::integer, 0))),
       GREATEST(256,
           COALESCE((c.config #>> '{limits,maxHalfOpenHandshakes}')::integer, 0),
           COALESCE((c.config #>> '{limits,maxHalfOpenHandshakesPerClient}')::integer, 0)),
       5, 10, 1000, 10, 10, now()
FROM tenants t
LEFT JOIN tenant_configs c ON c.tenant_id = t.id AND c.revision = t.config_revision;

-- Dedicated ports released by a tenant (the port deleted, or the tenant with it). For Platform:PortCooldownHours after
-- released_at the port goes to no other tenant, so a device still dialling the old tenant's port does not reach a new
-- owner. One row per port: a later release replaces the earlier one. No foreign key: the row outlives its tenant.
CREATE TABLE port_cooldowns (
    port         integer PRIMARY KEY CHECK (port BETWEEN 1 AND 65535),
    tenant_id    uuid NOT NULL,
    released_at  timestamptz NOT NULL
);
