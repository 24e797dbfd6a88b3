using System.Diagnostics.Metrics;
using Dapper;
using Npgsql;

namespace Platform.Silo.Telemetry;

/// <summary>
/// Per live gateway, how many configuration revisions it is behind: the current revision minus the one it reported in
/// its last heartbeat. Read from the database when Prometheus scrapes (<see cref="RefreshAsync"/>), so every silo
/// reports the same numbers whichever silo the gateways' grains live on.
/// </summary>
internal sealed partial class GatewayRevisionLag : IDisposable
{
    // Scrapes closer together than this (several Prometheus servers, a retry) reuse the last reading.
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    private readonly NpgsqlDataSource _dataSource;
    private readonly PlatformClock _time;
    private readonly ILogger<GatewayRevisionLag> _logger;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Reading _last = new([], DateTimeOffset.MinValue);

    public GatewayRevisionLag(IMeterFactory meterFactory, NpgsqlDataSource dataSource, PlatformClock time, ILogger<GatewayRevisionLag> logger)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(time);
        _dataSource = dataSource;
        _time = time;
        _logger = logger;
        meterFactory.Create(SiloMetrics.MeterName).CreateObservableGauge(
            "platform.silo.gateway.config.revision.lag", Observe, null,
            "Per live gateway (up or draining): the current configuration revision minus the revision it reported in its last heartbeat.");
    }

    /// <summary>Reads the live gateways' reported revisions and the current revision, unless the last reading is fresh.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            var now = _time.GetUtcNow();
            if (now - _last.At < Freshness)
            {
                return;
            }

            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            var rows = await connection.QueryAsync<LagRow>(new CommandDefinition(
                """
                SELECT n.id AS GatewayId,
                       GREATEST(0, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM config_revision_seq) - n.config_revision) AS Lag
                FROM gateway_nodes n
                WHERE n.status IN ('up', 'draining')
                ORDER BY n.id
                """,
                cancellationToken: cancellationToken));
            _last = new Reading([.. rows], now);
        }
        catch (NpgsqlException ex)
        {
            // No reading is better than a stale one: the series disappear until the database answers again.
            _last = new Reading([], DateTimeOffset.MinValue);
            LogRefreshFailed(_logger, ex.Message);
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Dispose() => _refresh.Dispose();

    private IEnumerable<Measurement<long>> Observe()
    {
        foreach (var row in _last.Rows)
        {
            yield return new Measurement<long>(row.Lag, new KeyValuePair<string, object?>("gateway", row.GatewayId));
        }
    }

    [LoggerMessage(EventId = 7701, Level = LogLevel.Warning, Message = "Gateway revision lag not read for this scrape: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string error);

    private sealed record LagRow(string GatewayId, long Lag);

    private sealed record Reading(IReadOnlyList<LagRow> Rows, DateTimeOffset At);
}
