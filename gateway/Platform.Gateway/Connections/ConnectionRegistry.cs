using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Platform.Gateway.Admission;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Connections;

/// <summary>Open connections of this gateway by id; reports opens and closes to the directory.</summary>
internal sealed partial class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, GatewayConnection> _connections = new(StringComparer.Ordinal);
    private readonly ConnectionEventSink _events;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<ConnectionRegistry> _logger;

    public ConnectionRegistry(ConnectionEventSink events, GatewayMetrics metrics, TenantSnapshotStore store, DrainState drain, ILogger<ConnectionRegistry> logger)
    {
        _events = events;
        _metrics = metrics;
        _logger = logger;
        store.Changed += OnSnapshotChanged;
        drain.Started += OnDrainStarted;
    }

    public int Count => _connections.Count;

    public void Add(GatewayConnection connection)
    {
        _connections[connection.Id] = connection;
        _metrics.Opened(connection.Tenant.Slug, connection.Protocol);
        _events.Opened(connection);
        Log.Opened(_logger, connection.Id, connection.Tenant.Slug, connection.Protocol, connection.Remote);
    }

    public void Remove(GatewayConnection connection)
    {
        if (_connections.TryRemove(new KeyValuePair<string, GatewayConnection>(connection.Id, connection)))
        {
            _metrics.Closed(connection.Tenant.Slug, connection.Protocol);
            _events.Closed(connection);
            Log.Closed(_logger, connection.Id, connection.CloseCode, connection.CloseReason);
        }
    }

    public GatewayConnection? Find(string id) => _connections.GetValueOrDefault(id);

    /// <summary>
    /// The open connections, enumerated in place (without the lock-taking copy <c>Values</c> makes: at 10k
    /// connections an 80 KB list per call, and the monitor calls this every second).
    /// </summary>
    public IEnumerable<GatewayConnection> All
    {
        get
        {
            foreach (var (_, connection) in _connections)
            {
                yield return connection;
            }
        }
    }

    /// <summary>Queues an open event for every live connection (after the silo forgot this node).</summary>
    public void AnnounceAll()
    {
        foreach (var connection in _connections.Values)
        {
            _events.Opened(connection);
        }
    }

    /// <summary>Closes every open connection (drain deadline, shutdown).</summary>
    public void CloseAll(int code, string reason)
    {
        foreach (var connection in _connections.Values)
        {
            connection.Close(code, reason);
        }
    }

    private void OnSnapshotChanged(GatewaySnapshot previous, GatewaySnapshot next)
    {
        // Suspending or deleting a tenant closes its connections; other changes apply to new connections only.
        foreach (var connection in _connections.Values)
        {
            if (!next.ById.TryGetValue(connection.Tenant.Id, out var tenant))
            {
                connection.Close(CloseCodes.Drained, "tenant removed");
            }
            else if (tenant.Suspended)
            {
                connection.Close(CloseCodes.Drained, "tenant suspended");
            }
        }
    }

    private void OnDrainStarted(DateTimeOffset? deadline) => Log.Draining(_logger, _connections.Count, deadline);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Connection {Id} opened for {Tenant} over {Protocol} from {Remote}")]
        public static partial void Opened(ILogger logger, string id, string tenant, string protocol, System.Net.IPEndPoint remote);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Connection {Id} closed: {Code} {Reason}")]
        public static partial void Closed(ILogger logger, string id, int? code, string? reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Draining with {Count} connections open; deadline {Deadline}")]
        public static partial void Draining(ILogger logger, int count, DateTimeOffset? deadline);
    }
}
