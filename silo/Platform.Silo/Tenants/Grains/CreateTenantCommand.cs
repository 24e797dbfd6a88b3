namespace Platform.Silo.Tenants.Grains;

/// <summary>A validated tenant creation. The configuration carries no webhook secret: the new one, if any, arrives encrypted.</summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.create")]
internal sealed record CreateTenantCommand(
    [property: Id(0)] Guid TenantId,
    [property: Id(1)] string DisplayName,
    [property: Id(2)] string ConfigJson,
    [property: Id(3)] byte[]? WebhookSecretEnc,
    [property: Id(4)] string PlanJson,
    [property: Id(5)] string Actor);
