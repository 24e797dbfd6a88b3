namespace Platform.Contracts.Plans;

/// <summary>
/// What a tenant may use, set by operators only (<c>PUT /v1/tenants/{slug}/plan</c>). Configuration values above a
/// ceiling are refused; the value a gateway applies is the tenant's own value capped by the plan, so lowering a plan
/// takes effect at once without rewriting the tenant's configuration. Counts bound how many of each resource the
/// tenant may create; what exists already is kept when a plan is lowered.
/// </summary>
public sealed record TenantPlan
{
    /// <summary>Ceiling of <c>limits.maxConnections</c>, 1..100000 (default 1000, the seeds' MaxConnections).</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>Ceiling of <c>limits.connectionsPerSecond</c> per tenant, 1..100000 (default 1000); a configuration's 0 means this ceiling.</summary>
    public int ConnectionsPerSecond { get; init; } = 1000;

    /// <summary>
    /// Ceiling of the largest message the tenant may accept, in bytes (<c>webSocket.maxMessageSize</c>,
    /// <c>framing.maxLineLength</c>, <c>framing.recordLength</c>), 256..16777216 (default 1048576).
    /// </summary>
    public int MaxMessageSize { get; init; } = 1_048_576;

    /// <summary>Ceiling of <c>limits.maxHalfOpenHandshakes</c> and <c>limits.maxHalfOpenHandshakesPerClient</c>, 1..100000 (default 256).</summary>
    public int MaxHalfOpenHandshakes { get; init; } = 256;

    /// <summary>Dedicated listener ports the tenant may hold, 0..1000 (default 5).</summary>
    public int DedicatedPorts { get; init; } = 5;

    /// <summary>Server certificates the tenant may hold, 0..1000 (default 10).</summary>
    public int Certificates { get; init; } = 10;

    /// <summary>DTLS PSK identities the tenant may hold, 0..1000000 (default 1000).</summary>
    public int PskIdentities { get; init; } = 1000;

    /// <summary>Live (not revoked) API keys the tenant may hold, 0..1000 (default 10).</summary>
    public int ApiKeys { get; init; } = 10;

    /// <summary>
    /// Custom host names the tenant may claim, 0..1000 (default 10): the configuration's <c>hostNames</c> and the DNS names of
    /// its certificates outside the platform domain, counted once each.
    /// </summary>
    public int HostNames { get; init; } = 10;
}
