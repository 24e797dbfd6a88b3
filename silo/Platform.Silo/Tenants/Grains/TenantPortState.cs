namespace Platform.Silo.Tenants.Grains;

/// <summary>One dedicated port of the grain's tenant.</summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.port")]
internal sealed record TenantPortState(
    [property: Id(0)] int Port,
    [property: Id(1)] string Protocol,
    [property: Id(2)] DateTimeOffset CreatedAt);
