using System.Text.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Silo.Connections.Live;

namespace Platform.Silo.Connections;

/// <summary>Filters of a connection listing.</summary>
internal sealed record ConnectionQuery(string State, string? Protocol, string? RemoteAddress, string? Gateway, int Offset, int Limit);

/// <summary>Where a command for a connection goes.</summary>
internal sealed record ConnectionRoute(string GatewayId, string? GatewayStatus);

/// <summary>
/// Reads of the connection directory, always within one tenant. Open connections are answered by the tenant's
/// <see cref="ITenantConnectionsGrain"/> from its memory; closed ones (kept for the retention window) from PostgreSQL.
/// </summary>
internal sealed class ConnectionDirectory(NpgsqlDataSource dataSource, IGrainFactory grains)
{
    public const string StateOpen = "open";
    public const string StateClosed = "closed";
    public const string StateAll = "all";

    public async Task<Page<ConnectionResponse>> ListAsync(Guid tenantId, ConnectionQuery query, CancellationToken cancellationToken)
    {
        if (query.State == StateOpen)
        {
            var live = await grains.GetGrain<ITenantConnectionsGrain>(tenantId)
                .ListAsync(new LiveConnectionQuery(query.Protocol, query.RemoteAddress, query.Gateway, query.Offset, query.Limit))
                .WaitAsync(cancellationToken);
            return new Page<ConnectionResponse>(live.Items.Select(ToResponse).ToList(), live.Total, query.Offset, query.Limit);
        }

        const string Filter = """
            WHERE c.tenant_id = @tenantId
              AND (@state = 'all' OR (@state = 'open') = (c.closed_at IS NULL))
              AND (@protocol::text IS NULL OR c.protocol = @protocol)
              AND (@remoteAddress::text IS NULL OR c.remote_address = @remoteAddress)
              AND (@gateway::text IS NULL OR c.gateway_id = @gateway)
            """;
        var parameters = new { tenantId, state = query.State, protocol = query.Protocol, remoteAddress = query.RemoteAddress, gateway = query.Gateway, query.Offset, query.Limit };
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM connections c {Filter}", parameters, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<ConnectionRow>(new CommandDefinition(
            $"""
            {Select}
            {Filter}
            ORDER BY c.opened_at, c.id
            OFFSET @Offset LIMIT @Limit
            """,
            parameters, cancellationToken: cancellationToken));
        return new Page<ConnectionResponse>(rows.Select(r => r.ToResponse()).ToList(), total, query.Offset, query.Limit);
    }

    /// <summary>The connection, open (from the tenant's grain) or closed within retention (from PostgreSQL); null when neither.</summary>
    public async Task<ConnectionResponse?> GetAsync(Guid tenantId, string id, CancellationToken cancellationToken)
    {
        if (await grains.GetGrain<ITenantConnectionsGrain>(tenantId).GetAsync(id).WaitAsync(cancellationToken) is { } live)
        {
            return ToResponse(live);
        }

        // Not open: closed, unknown, or another tenant's. Only a closed row of this tenant answers.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ConnectionRow>(new CommandDefinition(
            $"""
            {Select}
            WHERE c.tenant_id = @tenantId AND c.id = @id AND c.closed_at IS NOT NULL
            """,
            new { tenantId, id }, cancellationToken: cancellationToken));
        return row?.ToResponse();
    }

    /// <summary>
    /// The gateway named by an open connection's id, with its address and status; null when the
    /// connection is not open in this tenant.
    /// </summary>
    public async Task<ConnectionRoute?> RouteAsync(Guid tenantId, string id, CancellationToken cancellationToken)
    {
        if (!ConnectionId.TryParse(id, out var nodeId, out _))
        {
            return null;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ConnectionRoute>(new CommandDefinition(
            """
            SELECT @nodeId AS GatewayId, g.status AS GatewayStatus
            FROM connections c
            LEFT JOIN gateway_nodes g ON g.id = @nodeId
            WHERE c.tenant_id = @tenantId AND c.id = @id AND c.closed_at IS NULL
            """,
            new { tenantId, id, nodeId }, cancellationToken: cancellationToken));
    }

    /// <summary>Live gateways holding open connections of the tenant, and whether any gateway is live at all.</summary>
    public async Task<(IReadOnlyList<string> Holding, bool AnyLive)> BroadcastTargetsAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var holding = (await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT g.id
            FROM gateway_nodes g
            WHERE g.status IN ('up', 'draining')
              AND EXISTS (SELECT 1 FROM connections c WHERE c.tenant_id = @tenantId AND c.gateway_id = g.id AND c.closed_at IS NULL)
            ORDER BY g.id
            """,
            new { tenantId }, cancellationToken: cancellationToken))).AsList();
        var anyLive = holding.Count > 0 || await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM gateway_nodes WHERE status IN ('up', 'draining'))", cancellationToken: cancellationToken));
        return (holding, anyLive);
    }

    private const string Select = """
        SELECT c.id AS Id, c.gateway_id AS GatewayId, c.protocol AS Protocol, c.remote_address AS RemoteAddress,
               c.remote_port AS RemotePort, c.local_port AS LocalPort, c.opened_at AS OpenedAt, c.closed_at AS ClosedAt,
               c.close_code AS CloseCode, c.close_reason AS CloseReason, c.bytes_in AS BytesIn, c.bytes_out AS BytesOut,
               c.messages_in AS MessagesIn, c.messages_out AS MessagesOut, c.last_activity_at AS LastActivityAt,
               c.tls::text AS TlsJson, c.websocket::text AS WebSocketJson, c.metadata::text AS MetadataJson,
               c.forward_target AS ForwardTarget
        FROM connections c
        """;

    private static ConnectionResponse ToResponse(LiveConnection c) => new(
        c.Id, c.GatewayId, c.Protocol, c.RemoteAddress, c.RemotePort, c.LocalPort, Utc(c.OpenedAt), null, null, null,
        c.BytesIn, c.BytesOut, c.MessagesIn, c.MessagesOut, Utc(c.LastActivityAt), Facts<TlsFacts>(c.TlsJson), Facts<WebSocketFacts>(c.WebSocketJson),
        StoredMetadata.Read(c.MetadataJson), c.ForwardTarget);

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static T? Facts<T>(string? json)
        where T : class => json is null ? null : JsonSerializer.Deserialize<T>(json, PlatformJson.Tolerant);

    private sealed record ConnectionRow(
        string Id, string GatewayId, string Protocol, string RemoteAddress, int RemotePort, int LocalPort,
        DateTime OpenedAt, DateTime? ClosedAt, int? CloseCode, string? CloseReason,
        long BytesIn, long BytesOut, long MessagesIn, long MessagesOut, DateTime LastActivityAt, string? TlsJson, string? WebSocketJson,
        string? MetadataJson, string? ForwardTarget)
    {
        public ConnectionResponse ToResponse() => new(
            Id, GatewayId, Protocol, RemoteAddress, RemotePort, LocalPort, Utc(OpenedAt), ClosedAt is { } closed ? Utc(closed) : null,
            CloseCode, CloseReason, BytesIn, BytesOut, MessagesIn, MessagesOut, Utc(LastActivityAt),
            Facts<TlsFacts>(TlsJson), Facts<WebSocketFacts>(WebSocketJson), StoredMetadata.Read(MetadataJson), ForwardTarget);
    }
}
