using Platform.Contracts.Gateways;

namespace Platform.Silo.Gateways.Nodes;

/// <summary>A node's row in <c>gateway_nodes</c>, as its grain last read or wrote it.</summary>
/// <remarks>
/// A class rather than a positional record: text[] columns read as System.Array, which Dapper casts into a property
/// but cannot match against a constructor parameter.
/// </remarks>
internal sealed class GatewayNodeRow
{
    /// <summary>The columns every read and write of the grain returns, named after the properties.</summary>
    public const string Columns = """
        id AS Id, version AS Version, listeners AS Listeners, status AS Status,
        started_at AS StartedAt, last_heartbeat_at AS LastHeartbeatAt, config_revision AS ConfigRevision,
        open_connections AS OpenConnections, drain_deadline AS DrainDeadline, dead_at AS DeadAt,
        refusal_sequence AS RefusalSequence, row_version AS RowVersion
        """;

    public string Id { get; init; } = "";
    public string Version { get; init; } = "";
    public string[] Listeners { get; init; } = [];
    public string Status { get; init; } = "";
    public DateTime StartedAt { get; init; }
    public DateTime LastHeartbeatAt { get; init; }
    public long ConfigRevision { get; init; }
    public long OpenConnections { get; init; }
    public DateTime? DrainDeadline { get; init; }
    public DateTime? DeadAt { get; init; }

    /// <summary>The last refusal batch applied for the current registration.</summary>
    public long RefusalSequence { get; init; }

    /// <summary>Moves forward with every write; a write that finds another value writes nothing.</summary>
    public long RowVersion { get; init; }

    /// <summary>Set by a registration only: the row existed before (the node restarted).</summary>
    public bool Existed { get; init; }

    public bool IsLive => Status is GatewayStatuses.Up or GatewayStatuses.Draining;

    public static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
