using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;

namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// What a tenant grain holds in memory and answers reads from: the tenant row, its routing host names, its dedicated
/// ports and its current configuration with the webhook secret removed (<c>hasSecret</c> kept). The configuration
/// travels as its stored JSON, so the contracts' types need no Orleans serializer.
/// </summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.state")]
internal sealed record TenantState(
    [property: Id(0)] TenantRowState Row,
    [property: Id(1)] IReadOnlyList<string> HostNames,
    [property: Id(2)] IReadOnlyList<TenantPortState> Ports,
    [property: Id(3)] string ConfigJson)
{
    public Guid Id => Row.Id;

    public string Slug => Row.Slug;

    /// <summary>The configuration, read strictly (for returning it or changing it).</summary>
    public TenantConfig Config() => Read(PlatformJson.Options);

    /// <summary>
    /// The configuration, read strictly; false when it holds members this release does not know (a newer release
    /// stored it), which must not reach a client who may send it back without them.
    /// </summary>
    public bool TryConfig([NotNullWhen(true)] out TenantConfig? config)
    {
        try
        {
            config = Config();
            return true;
        }
        catch (JsonException) when (KnownConfig() is not null)
        {
            config = null;
            return false;
        }
    }

    /// <summary>The members of the configuration this release knows, for computing from them; never returned or stored.</summary>
    public TenantConfig KnownConfig() => Read(PlatformJson.Tolerant);

    private TenantConfig Read(JsonSerializerOptions options) =>
        JsonSerializer.Deserialize<TenantConfig>(ConfigJson, options)
        ?? throw new InvalidOperationException($"Tenant {Row.Id} has an empty configuration at revision {Row.ConfigRevision}.");

    public TenantResponse ToResponse() => new(
        Row.Id, Row.Slug, Row.DisplayName, Row.Status, Row.ConfigRevision,
        [.. HostNames], [.. Ports.Select(p => new DedicatedPortResponse(p.Port, p.Protocol, p.CreatedAt))],
        Row.CreatedAt, Row.UpdatedAt);

    /// <summary>Whether a caller limited to <paramref name="scope"/> (null: an operator) may see this tenant.</summary>
    public bool VisibleTo(Guid? scope) => scope is null || scope == Row.Id;
}
