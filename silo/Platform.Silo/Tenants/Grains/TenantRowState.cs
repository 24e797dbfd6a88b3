namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// The <c>tenants</c> row as a tenant grain holds it. The write routine compares it with the row it locks: any
/// difference (another activation, or another writer, changed the tenant) makes the grain reload before it decides.
/// </summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.row")]
internal sealed record TenantRowState(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Slug,
    [property: Id(2)] string DisplayName,
    [property: Id(3)] string Status,
    [property: Id(4)] long Revision,
    [property: Id(5)] long ConfigRevision,
    [property: Id(6)] int MaxConnections,
    [property: Id(7)] DateTimeOffset CreatedAt,
    [property: Id(8)] DateTimeOffset UpdatedAt);
