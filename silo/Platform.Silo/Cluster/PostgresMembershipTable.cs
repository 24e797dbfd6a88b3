using System.Data;
using System.Data.Common;
using System.Net;
using System.Text.Json;
using Dapper;
using Npgsql;
using Orleans;
using Orleans.Runtime;

namespace Platform.Silo.Cluster;

/// <summary>
/// Orleans' membership table over the platform's PostgreSQL (tables <c>cluster_versions</c> and
/// <c>cluster_silos</c>, migration 0008). Each write checks the etags its caller read, and a row change moves
/// the cluster's version row forward in the same transaction, which is what the membership protocol relies
/// on to let only one of two competing views win.
/// </summary>
internal sealed partial class PostgresMembershipTable(NpgsqlDataSource dataSource, PlatformOptions options, ILogger<PostgresMembershipTable> logger)
    : IMembershipTable
{
    private readonly string _clusterId = options.Cluster.ClusterId;

    public async Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        if (!tryInitTableVersion)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO cluster_versions (cluster_id, version, etag, updated_at) VALUES (@clusterId, 0, 0, now())
            ON CONFLICT (cluster_id) DO NOTHING
            """,
            new { clusterId = _clusterId });
    }

    public async Task DeleteMembershipTableEntries(string clusterId)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("DELETE FROM cluster_versions WHERE cluster_id = @clusterId", new { clusterId });
    }

    public async Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var removed = await connection.ExecuteAsync(
            "DELETE FROM cluster_silos WHERE cluster_id = @clusterId AND status = @dead AND i_am_alive_time < @beforeDate",
            new { clusterId = _clusterId, dead = (int)SiloStatus.Dead, beforeDate });
        if (removed > 0)
        {
            Log.DefunctRemoved(logger, removed);
        }
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ReadAsync(key);
    }

    public Task<MembershipTableData> ReadAll() => ReadAsync(null);

    public async Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        if (!await AdvanceVersionAsync(connection, transaction, tableVersion))
        {
            return false;
        }

        var row = SiloRow.From(entry);
        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO cluster_silos (cluster_id, address, port, generation, silo_name, host_name, status, gateway_port,
                                       suspect_times, start_time, i_am_alive_time, etag)
            VALUES (@clusterId, @Address::inet, @Port, @Generation, @SiloName, @HostName, @Status, @GatewayPort,
                    @SuspectTimes::jsonb, @StartTime, @IAmAliveTime, 0)
            ON CONFLICT DO NOTHING
            """,
            Parameters(row), transaction));
        if (inserted == 0)
        {
            return false;
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        if (!int.TryParse(etag, out var rowEtag))
        {
            return false;
        }

        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        if (!await AdvanceVersionAsync(connection, transaction, tableVersion))
        {
            return false;
        }

        var parameters = Parameters(SiloRow.From(entry));
        parameters.Add("etag", rowEtag);
        var updated = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE cluster_silos
            SET status = @Status, suspect_times = @SuspectTimes::jsonb, i_am_alive_time = @IAmAliveTime,
                silo_name = @SiloName, host_name = @HostName, gateway_port = @GatewayPort, start_time = @StartTime,
                etag = etag + 1
            WHERE cluster_id = @clusterId AND address = @Address::inet AND port = @Port AND generation = @Generation AND etag = @etag
            """,
            parameters, transaction));
        if (updated == 0)
        {
            return false;
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task UpdateIAmAlive(MembershipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var row = SiloRow.From(entry);
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            UPDATE cluster_silos SET i_am_alive_time = @IAmAliveTime
            WHERE cluster_id = @clusterId AND address = @Address::inet AND port = @Port AND generation = @Generation
            """,
            Parameters(row));
    }

    /// <summary>The cluster's version row and its silos (or one of them) read in one snapshot.</summary>
    private async Task<MembershipTableData> ReadAsync(SiloAddress? only)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        var version = await connection.QuerySingleOrDefaultAsync<(int Version, int Etag)?>(new CommandDefinition(
            "SELECT version, etag FROM cluster_versions WHERE cluster_id = @clusterId", new { clusterId = _clusterId }, transaction));
        var tableVersion = version is { } v ? new TableVersion(v.Version, v.Etag.ToString(System.Globalization.CultureInfo.InvariantCulture)) : new TableVersion(0, "0");
        var rows = await connection.QueryAsync<SiloRow>(new CommandDefinition(
            $"""
            SELECT host(address) AS Address, port AS Port, generation AS Generation, silo_name AS SiloName, host_name AS HostName,
                   status AS Status, gateway_port AS GatewayPort, suspect_times::text AS SuspectTimes,
                   start_time AS StartTime, i_am_alive_time AS IAmAliveTime, etag AS Etag
            FROM cluster_silos
            WHERE cluster_id = @clusterId {(only is null ? "" : "AND address = @address::inet AND port = @port AND generation = @generation")}
            """,
            new
            {
                clusterId = _clusterId,
                address = only?.Endpoint.Address.ToString(),
                port = only?.Endpoint.Port,
                generation = only?.Generation,
            },
            transaction));
        await transaction.CommitAsync();
        var members = rows.Select(r => Tuple.Create(r.ToEntry(), r.Etag.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        return new MembershipTableData(members, tableVersion);
    }

    /// <summary>Moves the version row to the caller's new version if nobody moved it since the caller read it.</summary>
    private async Task<bool> AdvanceVersionAsync(DbConnection connection, DbTransaction transaction, TableVersion tableVersion)
    {
        if (!int.TryParse(tableVersion.VersionEtag, out var etag))
        {
            return false;
        }

        return await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE cluster_versions SET version = @version, etag = etag + 1, updated_at = now()
            WHERE cluster_id = @clusterId AND etag = @etag
            """,
            new { clusterId = _clusterId, version = tableVersion.Version, etag }, transaction)) == 1;
    }

    private DynamicParameters Parameters(SiloRow row)
    {
        var parameters = new DynamicParameters(row);
        parameters.Add("clusterId", _clusterId);
        return parameters;
    }

    /// <summary>A <c>cluster_silos</c> row as Dapper maps it.</summary>
    internal sealed class SiloRow
    {
        public string Address { get; set; } = "";

        public int Port { get; set; }

        public int Generation { get; set; }

        public string SiloName { get; set; } = "";

        public string HostName { get; set; } = "";

        public int Status { get; set; }

        public int GatewayPort { get; set; }

        public string SuspectTimes { get; set; } = "[]";

        public DateTime StartTime { get; set; }

        public DateTime IAmAliveTime { get; set; }

        public int Etag { get; set; }

        public static SiloRow From(MembershipEntry entry) => new()
        {
            Address = entry.SiloAddress.Endpoint.Address.ToString(),
            Port = entry.SiloAddress.Endpoint.Port,
            Generation = entry.SiloAddress.Generation,
            SiloName = entry.SiloName ?? "",
            HostName = entry.HostName ?? "",
            Status = (int)entry.Status,
            GatewayPort = entry.ProxyPort,
            SuspectTimes = JsonSerializer.Serialize(
                (entry.SuspectTimes ?? []).Select(s => new Suspicion(s.Item1.ToParsableString(), DateTime.SpecifyKind(s.Item2, DateTimeKind.Utc))).ToList(),
                SuspicionJson.Default.ListSuspicion),
            StartTime = DateTime.SpecifyKind(entry.StartTime, DateTimeKind.Utc),
            IAmAliveTime = DateTime.SpecifyKind(entry.IAmAliveTime, DateTimeKind.Utc),
        };

        public MembershipEntry ToEntry() => new()
        {
            SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Parse(Address), Port), Generation),
            SiloName = SiloName,
            HostName = HostName,
            Status = (SiloStatus)Status,
            ProxyPort = GatewayPort,
            SuspectTimes = (JsonSerializer.Deserialize(SuspectTimes, SuspicionJson.Default.ListSuspicion) ?? [])
                .Select(s => Tuple.Create(SiloAddress.FromParsableString(s.Silo), s.At))
                .ToList(),
            StartTime = DateTime.SpecifyKind(StartTime, DateTimeKind.Utc),
            IAmAliveTime = DateTime.SpecifyKind(IAmAliveTime, DateTimeKind.Utc),
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Removed {Count} dead silo rows from the cluster's membership table")]
        public static partial void DefunctRemoved(ILogger logger, int count);
    }
}

/// <summary>One entry of <c>cluster_silos.suspect_times</c>.</summary>
internal sealed record Suspicion(string Silo, DateTime At);

[System.Text.Json.Serialization.JsonSerializable(typeof(List<Suspicion>))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class SuspicionJson : System.Text.Json.Serialization.JsonSerializerContext;
