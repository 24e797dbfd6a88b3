-- The version of a tenant's MaxConnections leases (quota_leases). The tenant's quota grain (Quotas/TenantQuotaGrain.cs)
-- keeps the leases in memory and moves this version forward with every grant, in the grant's transaction; every
-- other writer of quota_leases (gateway reaper, gateway leave and re-registration) moves it forward in its own. A
-- grant that finds a version other than the one its activation last read or wrote reloads the leases first, so a
-- stale activation, or a second one during a cluster membership change, never grants from an outdated view.
-- Deleting the tenant deletes its row with its leases (cascade): a later grant finds no tenant.
CREATE TABLE tenant_quotas (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    quota_version  bigint NOT NULL CHECK (quota_version >= 0)
);

INSERT INTO tenant_quotas (tenant_id, quota_version)
SELECT DISTINCT tenant_id, 1 FROM quota_leases;
