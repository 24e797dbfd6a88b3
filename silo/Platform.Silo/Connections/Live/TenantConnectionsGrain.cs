using System.Data;
using System.Data.Common;
using Dapper;
using Npgsql;
using Orleans.Placement;
using Platform.Silo.Events;
using Platform.Silo.Internal;
using Platform.Silo.Usage;

namespace Platform.Silo.Connections.Live;

/// <summary>
/// Holds one tenant's open connections. Calls are not interleaved. A batch of events is stored in one transaction that
/// takes the tenant row (share), the gateway row (share) and the tenant's <c>tenant_connection_versions</c> row
/// (exclusive, moving its version forward), and changes only rows of this tenant and that gateway; memory is updated
/// from what the statements returned once the transaction has committed. Before every answer the grain compares the
/// stored version with the one it last read or wrote: when another writer moved it (a gateway's connections closed in
/// bulk, another activation of this grain) it reloads the open connections first, so it never answers from, or writes
/// on top of, an outdated view.
/// </summary>
/// <remarks>
/// Placed on the silo that first receives a call for the tenant, like the quota grain: gateways and REST clients call
/// whichever silo they reach.
/// </remarks>
[PreferLocalPlacement]
internal sealed partial class TenantConnectionsGrain(NpgsqlDataSource dataSource, PlatformClock clock, ILogger<TenantConnectionsGrain> logger)
    : Grain, ITenantConnectionsGrain
{
    private readonly LiveConnectionSet _connections = new();

    /// <summary>The <c>connection_version</c> the set was last read or written at; -1 when it must be reloaded.</summary>
    private long _version = -1;

    public override Task OnActivateAsync(CancellationToken cancellationToken) => EnsureCurrentAsync(cancellationToken);

    public async Task<LiveConnectionPage> ListAsync(LiveConnectionQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        await EnsureCurrentAsync(CancellationToken.None);
        return _connections.List(query);
    }

    public async Task<LiveConnection?> GetAsync(string id)
    {
        await EnsureCurrentAsync(CancellationToken.None);
        return _connections.Get(id);
    }

    public async Task<bool> ApplyAsync(TenantConnectionEvents events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var tenantId = this.GetPrimaryKey();
        var cancellationToken = CancellationToken.None;
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

            // Lock order: tenant, gateway, version row. Bulk closes lock the gateway, then version rows in tenant order.
            var tenantExists = await connection.ExecuteScalarAsync<Guid?>(new CommandDefinition(
                "SELECT id FROM tenants WHERE id = @tenantId FOR SHARE",
                new { tenantId }, transaction, cancellationToken: cancellationToken)) is not null;
            if (!await GatewayRegistry.LockLiveGatewayAsync(connection, transaction, events.GatewayId, cancellationToken))
            {
                return false;
            }

            if (!tenantExists)
            {
                // Deleted with its connections and version row (cascade): a connection opened meanwhile is not an error.
                Invalidate();
                return true;
            }

            var version = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                """
                INSERT INTO tenant_connection_versions (tenant_id, connection_version) VALUES (@tenantId, 1)
                ON CONFLICT (tenant_id) DO UPDATE SET connection_version = tenant_connection_versions.connection_version + 1
                RETURNING connection_version
                """,
                new { tenantId }, transaction, cancellationToken: cancellationToken));
            if (version - 1 != _version)
            {
                LogReloaded(logger, tenantId, _version, version - 1);
                await LoadAsync(connection, transaction, version - 1, cancellationToken);
            }

            var opened = await OpenAsync(connection, transaction, tenantId, events, cancellationToken);
            var counted = await CountAsync(connection, transaction, tenantId, events, cancellationToken);
            var closed = await CloseAsync(connection, transaction, tenantId, events, cancellationToken);
            // The lifecycle events of exactly the rows this batch opened or closed, and the usage they add, in the batch's transaction.
            var now = clock.GetUtcNow();
            await EventOutbox.AppendAsync(connection, transaction, LifecycleEvents(tenantId, opened, closed), now, cancellationToken);
            await UsageMeter.SettleAsync(connection, transaction, tenantId, events.ConnectionIds(), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);

            foreach (var row in opened.Concat(counted))
            {
                _connections.Set(row);
            }

            foreach (var row in closed)
            {
                _connections.Remove(row.Id);
            }

            _version = version;
            return true;
        }
        catch
        {
            // Whether the batch was stored is unknown: the next call reloads rather than trust memory.
            Invalidate();
            throw;
        }
    }

    private void Invalidate()
    {
        _connections.Clear();
        _version = -1;
    }

    private async Task EnsureCurrentAsync(CancellationToken cancellationToken)
    {
        var tenantId = this.GetPrimaryKey();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            if (await ReadVersionAsync(connection, null, tenantId, cancellationToken) == _version)
            {
                return;
            }

            // The version and the rows from one snapshot, so the set is exactly the one stored at that version.
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
            var version = await ReadVersionAsync(connection, transaction, tenantId, cancellationToken);
            if (_version != -1)
            {
                LogReloaded(logger, tenantId, _version, version);
            }

            await LoadAsync(connection, transaction, version, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch
        {
            Invalidate();
            throw;
        }
    }

    private static Task<long> ReadVersionAsync(DbConnection connection, DbTransaction? transaction, Guid tenantId, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE((SELECT connection_version FROM tenant_connection_versions WHERE tenant_id = @tenantId), 0)",
            new { tenantId }, transaction, cancellationToken: cancellationToken));

    private async Task LoadAsync(DbConnection connection, DbTransaction transaction, long version, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<LiveConnection>(new CommandDefinition(
            $"SELECT {LiveColumns} FROM connections c WHERE c.tenant_id = @tenantId AND c.closed_at IS NULL",
            new { tenantId = this.GetPrimaryKey() }, transaction, cancellationToken: cancellationToken));
        _connections.Load(rows);
        _version = version;
    }

    /// <summary>
    /// Inserts new connections. A connection the silo closed on the gateway's behalf (declared dead, or re-registered)
    /// that the gateway announces again is reopened; one the gateway closed itself stays closed, so an open event
    /// applied after its close (a retried batch) changes nothing. Returns the rows inserted or reopened.
    /// </summary>
    private static async Task<IReadOnlyList<LiveConnection>> OpenAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, TenantConnectionEvents events, CancellationToken cancellationToken)
    {
        if (events.Opened.Count == 0)
        {
            return [];
        }

        var opened = events.Opened;
        return (await connection.QueryAsync<LiveConnection>(new CommandDefinition(
            $"""
            INSERT INTO connections AS c (id, tenant_id, gateway_id, protocol, remote_address, remote_port, local_port,
                                          opened_at, last_activity_at, tls, websocket, metadata, forward_target)
            SELECT o.id, @tenantId, @gatewayId, o.protocol, o.remote_address, o.remote_port, o.local_port,
                   o.opened_at, o.opened_at, o.tls::jsonb, o.websocket::jsonb, o.metadata::jsonb, o.forward_target
            FROM unnest(@ids, @protocols, @remoteAddresses, @remotePorts, @localPorts, @openedAts, @tls, @websockets, @metadata, @forwardTargets)
                 AS o(id, protocol, remote_address, remote_port, local_port, opened_at, tls, websocket, metadata, forward_target)
            ON CONFLICT (id) DO UPDATE SET closed_at = NULL, close_code = NULL, close_reason = NULL
            WHERE c.tenant_id = excluded.tenant_id
              AND c.gateway_id = excluded.gateway_id
              AND c.closed_at IS NOT NULL
              AND c.close_reason IN (@lostReason, @restartedReason)
            RETURNING {LiveColumns}
            """,
            new
            {
                tenantId,
                gatewayId = events.GatewayId,
                lostReason = GatewayReaper.LostReason,
                restartedReason = GatewayRegistry.RestartedReason,
                ids = opened.Select(o => o.Id).ToArray(),
                protocols = opened.Select(o => o.Protocol).ToArray(),
                remoteAddresses = opened.Select(o => o.RemoteAddress).ToArray(),
                remotePorts = opened.Select(o => o.RemotePort).ToArray(),
                localPorts = opened.Select(o => o.LocalPort).ToArray(),
                openedAts = opened.Select(o => o.OpenedAt).ToArray(),
                tls = opened.Select(o => o.TlsJson).ToArray(),
                websockets = opened.Select(o => o.WebSocketJson).ToArray(),
                metadata = opened.Select(o => o.MetadataJson).ToArray(),
                forwardTargets = opened.Select(o => o.ForwardTarget).ToArray(),
            },
            transaction, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Raises the counters of open connections (never lowers them: a late, smaller snapshot changes nothing).</summary>
    private static async Task<IReadOnlyList<LiveConnection>> CountAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, TenantConnectionEvents events, CancellationToken cancellationToken)
    {
        if (events.Counters.Count == 0)
        {
            return [];
        }

        return (await connection.QueryAsync<LiveConnection>(new CommandDefinition(
            $"""
            UPDATE connections c SET {CounterAssignments}
            FROM unnest(@ids, @bytesIn, @bytesOut, @messagesIn, @messagesOut, @lastActivityAts, @remoteAddresses, @remotePorts)
                 AS u(id, bytes_in, bytes_out, messages_in, messages_out, last_activity_at, remote_address, remote_port)
            WHERE c.id = u.id AND c.tenant_id = @tenantId AND c.gateway_id = @gatewayId AND c.closed_at IS NULL
            RETURNING {LiveColumns}
            """,
            CounterParameters(tenantId, events.GatewayId, events.Counters), transaction, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Closes open connections with their final counters; a close applied again finds nothing open. Returns the rows closed.</summary>
    private static async Task<IReadOnlyList<ClosedRow>> CloseAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, TenantConnectionEvents events, CancellationToken cancellationToken)
    {
        if (events.Closed.Count == 0)
        {
            return [];
        }

        var closed = events.Closed;
        var parameters = CounterParameters(tenantId, events.GatewayId, closed.Select(c => c.Counters).ToList());
        parameters.Add("closedAts", closed.Select(c => c.ClosedAt).ToArray());
        parameters.Add("closeCodes", closed.Select(c => c.CloseCode).ToArray());
        parameters.Add("closeReasons", closed.Select(c => c.CloseReason).ToArray());
        return (await connection.QueryAsync<ClosedRow>(new CommandDefinition(
            $"""
            UPDATE connections c SET {CounterAssignments},
                closed_at = u.closed_at, close_code = u.close_code, close_reason = u.close_reason
            FROM unnest(@ids, @bytesIn, @bytesOut, @messagesIn, @messagesOut, @lastActivityAts, @remoteAddresses, @remotePorts, @closedAts, @closeCodes, @closeReasons)
                 AS u(id, bytes_in, bytes_out, messages_in, messages_out, last_activity_at, remote_address, remote_port, closed_at, close_code, close_reason)
            WHERE c.id = u.id AND c.tenant_id = @tenantId AND c.gateway_id = @gatewayId AND c.closed_at IS NULL
            RETURNING c.id AS Id, c.protocol AS Protocol, c.remote_address AS RemoteAddress, c.remote_port AS RemotePort,
                      c.closed_at AS ClosedAt, c.close_code AS CloseCode, c.close_reason AS CloseReason
            """,
            parameters, transaction, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Connected events for the rows opened (in the order they opened), then disconnected events for those closed.</summary>
    private static List<OutboxEvent> LifecycleEvents(Guid tenantId, IReadOnlyList<LiveConnection> opened, IReadOnlyList<ClosedRow> closed)
    {
        var events = new List<OutboxEvent>(opened.Count + closed.Count);
        events.AddRange(opened.OrderBy(o => o.OpenedAt).ThenBy(o => o.Id, StringComparer.Ordinal).Select(o => new OutboxEvent(
            tenantId, Contracts.Events.LifecycleEventTypes.Connected, o.Id, o.Protocol, o.RemoteAddress, o.RemotePort, null, null,
            new DateTimeOffset(DateTime.SpecifyKind(o.OpenedAt, DateTimeKind.Utc)))));
        events.AddRange(closed.OrderBy(c => c.ClosedAt).ThenBy(c => c.Id, StringComparer.Ordinal).Select(c => new OutboxEvent(
            tenantId, Contracts.Events.LifecycleEventTypes.Disconnected, c.Id, c.Protocol, c.RemoteAddress, c.RemotePort, c.CloseCode, c.CloseReason,
            new DateTimeOffset(DateTime.SpecifyKind(c.ClosedAt, DateTimeKind.Utc)))));
        return events;
    }

    private sealed record ClosedRow(string Id, string Protocol, string RemoteAddress, int RemotePort, DateTime ClosedAt, int? CloseCode, string? CloseReason);

    private const string LiveColumns = """
        c.id AS Id, c.gateway_id AS GatewayId, c.protocol AS Protocol, c.remote_address AS RemoteAddress,
        c.remote_port AS RemotePort, c.local_port AS LocalPort, c.opened_at AS OpenedAt,
        c.bytes_in AS BytesIn, c.bytes_out AS BytesOut, c.messages_in AS MessagesIn, c.messages_out AS MessagesOut,
        c.last_activity_at AS LastActivityAt, c.tls::text AS TlsJson, c.websocket::text AS WebSocketJson,
        c.metadata::text AS MetadataJson, c.forward_target AS ForwardTarget
        """;

    private const string CounterAssignments = """
        bytes_in = GREATEST(c.bytes_in, u.bytes_in), bytes_out = GREATEST(c.bytes_out, u.bytes_out),
        messages_in = GREATEST(c.messages_in, u.messages_in), messages_out = GREATEST(c.messages_out, u.messages_out),
        last_activity_at = GREATEST(c.last_activity_at, u.last_activity_at),
        remote_address = COALESCE(u.remote_address, c.remote_address), remote_port = COALESCE(u.remote_port, c.remote_port)
        """;

    private static DynamicParameters CounterParameters(Guid tenantId, string gatewayId, IReadOnlyList<ConnectionCountersEvent> counters)
    {
        var parameters = new DynamicParameters();
        parameters.Add("tenantId", tenantId);
        parameters.Add("gatewayId", gatewayId);
        parameters.Add("ids", counters.Select(c => c.Id).ToArray());
        parameters.Add("bytesIn", counters.Select(c => c.BytesIn).ToArray());
        parameters.Add("bytesOut", counters.Select(c => c.BytesOut).ToArray());
        parameters.Add("messagesIn", counters.Select(c => c.MessagesIn).ToArray());
        parameters.Add("messagesOut", counters.Select(c => c.MessagesOut).ToArray());
        parameters.Add("lastActivityAts", counters.Select(c => c.LastActivityAt).ToArray());
        // A DTLS session with a connection ID that moved reports its new address; null leaves the stored one.
        parameters.Add("remoteAddresses", counters.Select(c => c.RemoteAddress).ToArray());
        parameters.Add("remotePorts", counters.Select(c => c.RemotePort).ToArray());
        return parameters;
    }

    [LoggerMessage(EventId = 7500, Level = LogLevel.Information, Message = "Open connections of tenant {TenantId} changed outside this activation (version {Held}, stored {Stored}); reloaded")]
    private static partial void LogReloaded(ILogger logger, Guid tenantId, long held, long stored);
}
