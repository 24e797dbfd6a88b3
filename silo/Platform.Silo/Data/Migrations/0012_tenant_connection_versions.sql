-- The version of a tenant's open connections. The tenant's connections grain (Connections/Live/TenantConnectionsGrain.cs)
-- holds them in memory and moves this version forward with every batch of events it stores, in that batch's
-- transaction; every other writer that closes open connections (gateway reaper, gateway leave and re-registration,
-- through Internal/GatewayConnections.cs) moves it forward in its own. The grain reads the version before every answer
-- and reloads the open connections when it is not the one it last read or wrote, so neither a stale activation nor a
-- second one during a cluster membership change answers from, or writes on top of, an outdated view. A tenant without a
-- row is at version 0. Deleting the tenant deletes its row with its connections (cascade).
CREATE TABLE tenant_connection_versions (
    tenant_id           uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    connection_version  bigint NOT NULL CHECK (connection_version >= 0)
);
