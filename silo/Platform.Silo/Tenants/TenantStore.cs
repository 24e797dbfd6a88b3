using System.Data.Common;
using Dapper;
using Platform.Contracts.Tenants;
using Platform.Silo.Data;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.Tenants;

/// <summary>Reads of the tenant rows the REST API shows, with their host names and dedicated ports.</summary>
internal static class TenantStore
{
    /// <summary>Inserts an active tenant whose revision and config revision are both <paramref name="revision"/>.</summary>
    public static async Task InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string slug, string displayName, long revision,
        int maxConnections, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO tenants (id, slug, display_name, status, revision, config_revision, max_connections, created_at, updated_at)
            VALUES (@tenantId, @slug, @displayName, @status, @revision, @revision, @maxConnections, @now, @now)
            """,
            new { tenantId, slug, displayName, status = TenantStatuses.Active, revision, maxConnections, now },
            transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Inserting tenant {tenantId} wrote {rows} rows.");
        }
    }

    /// <summary>Sets the display name and returns the previous one.</summary>
    public static async Task<string> UpdateDisplayNameAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string displayName, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var previous = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            """
            UPDATE tenants t SET display_name = @displayName, updated_at = @now
            FROM (SELECT id, display_name FROM tenants WHERE id = @tenantId) old
            WHERE t.id = old.id
            RETURNING old.display_name
            """,
            new { tenantId, displayName, now }, transaction, cancellationToken: cancellationToken));
        return previous ?? throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
    }

    /// <summary>Sets the status; the caller bumps the revision so gateways see it.</summary>
    public static async Task SetStatusAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string status, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE tenants SET status = @status WHERE id = @tenantId",
            new { tenantId, status }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
        }
    }

    /// <summary>Stamps the tenant with a revision taken from <see cref="ConfigRevisions.NextAsync"/>; the caller queues the watch notification.</summary>
    public static async Task StampRevisionAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, long revision, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE tenants SET revision = @revision, updated_at = @now WHERE id = @tenantId",
            new { tenantId, revision, now }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
        }
    }

    /// <summary>Removes the tenant (its configs, claims, keys, certificates and ports cascade) and leaves a tombstone.</summary>
    public static async Task DeleteAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, long revision, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO tenant_tombstones (tenant_id, revision, deleted_at) VALUES (@tenantId, @revision, @now)
            ON CONFLICT (tenant_id) DO UPDATE SET revision = excluded.revision, deleted_at = excluded.deleted_at
            """,
            new { tenantId, revision, now }, transaction, cancellationToken: cancellationToken));
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM tenants WHERE id = @tenantId",
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
        }
    }

    /// <summary>The tenant row by slug, locked <c>FOR UPDATE</c> when <paramref name="forUpdate"/>; null when there is none.</summary>
    public static async Task<TenantRowState?> GetRowAsync(
        DbConnection connection, DbTransaction? transaction, string slug, bool forUpdate, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<StateRow>(new CommandDefinition(
            $"""
            SELECT id AS Id, slug AS Slug, display_name AS DisplayName, status AS Status, revision AS Revision,
                   config_revision AS ConfigRevision, max_connections AS MaxConnections, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM tenants WHERE slug = @slug
            {(forUpdate ? "FOR UPDATE" : "")}
            """,
            new { slug }, transaction, cancellationToken: cancellationToken));
        return row is null
            ? null
            : new TenantRowState(row.Id, row.Slug, row.DisplayName, row.Status, row.Revision, row.ConfigRevision, row.MaxConnections,
                Utc(row.CreatedAt), Utc(row.UpdatedAt));
    }

    /// <summary>Everything a tenant grain holds for <paramref name="row"/>: its routing names, ports and current configuration.</summary>
    public static async Task<TenantState> LoadStateAsync(
        DbConnection connection, DbTransaction? transaction, TenantRowState row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(row);
        var tenantId = row.Id;
        var names = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE tenant_id = @tenantId ORDER BY host_name",
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        var ports = await connection.QueryAsync<PortRow>(new CommandDefinition(
            """
            SELECT tenant_id AS TenantId, port AS Port, protocol AS Protocol, created_at AS CreatedAt
            FROM dedicated_ports WHERE tenant_id = @tenantId ORDER BY port
            """,
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        var config = await TenantConfigStore.GetJsonAsync(connection, transaction, tenantId, row.ConfigRevision, cancellationToken)
            ?? throw new InvalidOperationException($"Tenant {tenantId} has no configuration row for revision {row.ConfigRevision}.");
        return new TenantState(row, names.ToList(), ports.Select(p => new TenantPortState(p.Port, p.Protocol, Utc(p.CreatedAt))).ToList(), config);
    }

    public static async Task<(IReadOnlyList<TenantResponse> Items, long Total)> ListAsync(
        DbConnection connection, string? search, int offset, int limit, CancellationToken cancellationToken)
    {
        // strpos instead of LIKE: the search text is matched literally, so '%' and '_' are not wildcards.
        const string filter = """
            WHERE @search IS NULL
               OR strpos(lower(slug), lower(@search)) > 0
               OR strpos(lower(display_name), lower(@search)) > 0
            """;
        var parameters = new { search, offset, limit };
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM tenants {filter}", parameters, cancellationToken: cancellationToken));
        var rows = (await connection.QueryAsync<TenantRow>(new CommandDefinition(
            $"""
            SELECT id AS Id, slug AS Slug, display_name AS DisplayName, status AS Status,
                   config_revision AS ConfigRevision, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM tenants
            {filter}
            ORDER BY slug
            OFFSET @offset LIMIT @limit
            """,
            parameters, cancellationToken: cancellationToken))).AsList();
        return (await DecorateAsync(connection, rows, null, cancellationToken), total);
    }

    public static async Task<(IReadOnlyList<DedicatedPortResponse> Items, long Total)> ListPortsAsync(
        DbConnection connection, Guid tenantId, int offset, int limit, CancellationToken cancellationToken)
    {
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM dedicated_ports WHERE tenant_id = @tenantId", new { tenantId }, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<PortRow>(new CommandDefinition(
            """
            SELECT tenant_id AS TenantId, port AS Port, protocol AS Protocol, created_at AS CreatedAt
            FROM dedicated_ports WHERE tenant_id = @tenantId ORDER BY port
            OFFSET @offset LIMIT @limit
            """,
            new { tenantId, offset, limit }, cancellationToken: cancellationToken));
        return (rows.Select(p => p.ToResponse()).ToList(), total);
    }

    private static async Task<IReadOnlyList<TenantResponse>> DecorateAsync(
        DbConnection connection, IReadOnlyList<TenantRow> rows, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        var ids = rows.Select(r => r.Id).ToArray();
        var names = (await connection.QueryAsync<(Guid TenantId, string HostName)>(new CommandDefinition(
            "SELECT tenant_id, host_name FROM host_name_claims WHERE tenant_id = ANY(@ids) ORDER BY host_name",
            new { ids }, transaction, cancellationToken: cancellationToken)))
            .ToLookup(n => n.TenantId, n => n.HostName);
        var ports = (await connection.QueryAsync<PortRow>(new CommandDefinition(
            """
            SELECT tenant_id AS TenantId, port AS Port, protocol AS Protocol, created_at AS CreatedAt
            FROM dedicated_ports WHERE tenant_id = ANY(@ids) ORDER BY port
            """,
            new { ids }, transaction, cancellationToken: cancellationToken)))
            .ToLookup(p => p.TenantId, p => p.ToResponse());

        return rows.Select(r => new TenantResponse(
            r.Id, r.Slug, r.DisplayName, r.Status, r.ConfigRevision,
            names[r.Id].ToList(), ports[r.Id].ToList(), Utc(r.CreatedAt), Utc(r.UpdatedAt))).ToList();
    }

    internal static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed class TenantRow
    {
        public Guid Id { get; init; }
        public string Slug { get; init; } = "";
        public string DisplayName { get; init; } = "";
        public string Status { get; init; } = "";
        public long ConfigRevision { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }
    }

    private sealed class StateRow
    {
        public Guid Id { get; init; }
        public string Slug { get; init; } = "";
        public string DisplayName { get; init; } = "";
        public string Status { get; init; } = "";
        public long Revision { get; init; }
        public long ConfigRevision { get; init; }
        public int MaxConnections { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }
    }

    private sealed class PortRow
    {
        public Guid TenantId { get; init; }
        public int Port { get; init; }
        public string Protocol { get; init; } = "";
        public DateTime CreatedAt { get; init; }

        public DedicatedPortResponse ToResponse() => new(Port, Protocol, Utc(CreatedAt));
    }
}
