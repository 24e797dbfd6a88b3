namespace Platform.Silo.Tenants;

/// <summary>The tenant row facts most endpoints need.</summary>
internal sealed record TenantRef(Guid Id, string Slug, string Status, long Revision, long ConfigRevision, int MaxConnections);
