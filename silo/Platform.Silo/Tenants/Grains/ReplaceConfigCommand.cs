namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// A validated configuration replacement based on <see cref="ExpectedRevision"/> (the If-Match). The configuration carries
/// no webhook secret: a new one arrives encrypted for <see cref="TenantId"/>, and is refused for any other tenant.
/// </summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.replace-config")]
internal sealed record ReplaceConfigCommand(
    [property: Id(0)] Guid? Scope,
    [property: Id(1)] Guid TenantId,
    [property: Id(2)] long ExpectedRevision,
    [property: Id(3)] string ConfigJson,
    [property: Id(4)] byte[]? NewWebhookSecretEnc,
    [property: Id(5)] string Actor);
