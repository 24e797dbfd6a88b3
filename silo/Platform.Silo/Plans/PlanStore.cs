using System.Data.Common;
using Dapper;
using Platform.Contracts.Plans;

namespace Platform.Silo.Plans;

/// <summary>
/// Rows of <c>tenant_plans</c>, and the usage a plan's counts are compared with. A tenant without a row has the default
/// <see cref="TenantPlan"/>. Callers that act on a plan hold the tenant row lock, which every plan writer takes first.
/// </summary>
internal static class PlanStore
{
    private const string Columns = """
        tenant_id AS TenantId, max_connections AS MaxConnections, connections_per_second AS ConnectionsPerSecond,
        max_message_size AS MaxMessageSize, max_half_open_handshakes AS MaxHalfOpenHandshakes, dedicated_ports AS DedicatedPorts,
        certificates AS Certificates, psk_identities AS PskIdentities, api_keys AS ApiKeys, host_names AS HostNames
        """;

    public static async Task<TenantPlan> GetAsync(DbConnection connection, DbTransaction? transaction, Guid tenantId, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<PlanRow>(new CommandDefinition(
            $"SELECT {Columns} FROM tenant_plans WHERE tenant_id = @tenantId",
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        return row?.ToPlan() ?? new TenantPlan();
    }

    /// <summary>The plans of many tenants at once (config snapshots); tenants without a row are absent.</summary>
    public static async Task<IReadOnlyDictionary<Guid, TenantPlan>> LoadAsync(
        DbConnection connection, DbTransaction? transaction, IReadOnlyCollection<Guid> tenantIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantIds);
        var rows = await connection.QueryAsync<PlanRow>(new CommandDefinition(
            $"SELECT {Columns} FROM tenant_plans WHERE tenant_id = ANY(@tenantIds)",
            new { tenantIds = tenantIds.ToArray() }, transaction, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.TenantId, r => r.ToPlan());
    }

    public static async Task UpsertAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, TenantPlan plan, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO tenant_plans (tenant_id, max_connections, connections_per_second, max_message_size, max_half_open_handshakes,
                                      dedicated_ports, certificates, psk_identities, api_keys, host_names, updated_at)
            VALUES (@tenantId, @MaxConnections, @ConnectionsPerSecond, @MaxMessageSize, @MaxHalfOpenHandshakes,
                    @DedicatedPorts, @Certificates, @PskIdentities, @ApiKeys, @HostNames, @now)
            ON CONFLICT (tenant_id) DO UPDATE SET
                max_connections = excluded.max_connections, connections_per_second = excluded.connections_per_second,
                max_message_size = excluded.max_message_size, max_half_open_handshakes = excluded.max_half_open_handshakes,
                dedicated_ports = excluded.dedicated_ports, certificates = excluded.certificates,
                psk_identities = excluded.psk_identities, api_keys = excluded.api_keys, host_names = excluded.host_names,
                updated_at = excluded.updated_at
            """,
            new
            {
                tenantId,
                plan.MaxConnections,
                plan.ConnectionsPerSecond,
                plan.MaxMessageSize,
                plan.MaxHalfOpenHandshakes,
                plan.DedicatedPorts,
                plan.Certificates,
                plan.PskIdentities,
                plan.ApiKeys,
                plan.HostNames,
                now,
            },
            transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Writing the plan of tenant {tenantId} affected {rows} rows.");
        }
    }

    /// <summary>What the tenant holds, counted as the plan counts it.</summary>
    public static async Task<TenantPlanUsage> UsageAsync(
        DbConnection connection, DbTransaction? transaction, Guid tenantId, string platformDomain, CancellationToken cancellationToken)
    {
        var counts = await connection.QuerySingleAsync<UsageRow>(new CommandDefinition(
            """
            SELECT (SELECT count(*) FROM dedicated_ports WHERE tenant_id = @tenantId)::int AS DedicatedPorts,
                   (SELECT count(*) FROM certificates WHERE tenant_id = @tenantId)::int AS Certificates,
                   (SELECT count(*) FROM psk_identities WHERE tenant_id = @tenantId)::int AS PskIdentities,
                   (SELECT count(*) FROM api_keys WHERE tenant_id = @tenantId AND revoked_at IS NULL)::int AS ApiKeys
            """,
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        var hostNames = await CustomHostNamesAsync(connection, transaction, tenantId, platformDomain, null, cancellationToken);
        return new TenantPlanUsage(counts.DedicatedPorts, counts.Certificates, counts.PskIdentities, counts.ApiKeys, hostNames.Count);
    }

    /// <summary>
    /// The tenant's custom host names: <paramref name="configHostNames"/> (null: those of its current configuration)
    /// and the DNS names of its certificates, outside the platform domain, each once.
    /// </summary>
    public static async Task<IReadOnlySet<string>> CustomHostNamesAsync(
        DbConnection connection, DbTransaction? transaction, Guid tenantId, string platformDomain, IEnumerable<string>? configHostNames,
        CancellationToken cancellationToken)
    {
        configHostNames ??= await CurrentConfigHostNamesAsync(connection, transaction, tenantId, cancellationToken);
        var certificateNames = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT unnest(host_names) FROM certificates WHERE tenant_id = @tenantId",
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        return CustomHostNames.Of(configHostNames.Concat(certificateNames), platformDomain);
    }

    private static async Task<IEnumerable<string>> CurrentConfigHostNamesAsync(
        DbConnection connection, DbTransaction? transaction, Guid tenantId, CancellationToken cancellationToken) =>
        await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT jsonb_array_elements_text(c.config->'hostNames')
            FROM tenant_configs c
            JOIN tenants t ON t.id = c.tenant_id AND t.config_revision = c.revision
            WHERE c.tenant_id = @tenantId AND jsonb_typeof(c.config->'hostNames') = 'array'
            """,
            new { tenantId }, transaction, cancellationToken: cancellationToken));

    private sealed class PlanRow
    {
        public Guid TenantId { get; init; }
        public int MaxConnections { get; init; }
        public int ConnectionsPerSecond { get; init; }
        public int MaxMessageSize { get; init; }
        public int MaxHalfOpenHandshakes { get; init; }
        public int DedicatedPorts { get; init; }
        public int Certificates { get; init; }
        public int PskIdentities { get; init; }
        public int ApiKeys { get; init; }
        public int HostNames { get; init; }

        public TenantPlan ToPlan() => new()
        {
            MaxConnections = MaxConnections,
            ConnectionsPerSecond = ConnectionsPerSecond,
            MaxMessageSize = MaxMessageSize,
            MaxHalfOpenHandshakes = MaxHalfOpenHandshakes,
            DedicatedPorts = DedicatedPorts,
            Certificates = Certificates,
            PskIdentities = PskIdentities,
            ApiKeys = ApiKeys,
            HostNames = HostNames,
        };
    }

    private sealed record UsageRow(int DedicatedPorts, int Certificates, int PskIdentities, int ApiKeys);
}
