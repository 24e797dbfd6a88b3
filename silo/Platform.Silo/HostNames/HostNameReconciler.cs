using Dapper;
using Npgsql;
using Platform.Silo.Audit;
using Platform.Silo.Certificates;
using Platform.Silo.Data;
using Platform.Silo.Tenants;

namespace Platform.Silo.HostNames;

/// <summary>
/// At start, after the migrations, rebuilds the claims of every tenant whose platform name under the current
/// <c>Platform:Domain</c> is missing: tenants whose names were migrated from before host-name proof (their custom
/// names became pending), and all tenants after the platform domain changed. A tenant already in order costs nothing.
/// </summary>
internal sealed partial class HostNameReconciler(
    NpgsqlDataSource dataSource, PlatformOptions platform, PlatformClock time, ILogger<HostNameReconciler> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var domain = platform.Domain.ToLowerInvariant();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var stale = (await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT t.slug FROM tenants t
            WHERE NOT EXISTS (
                SELECT 1 FROM host_names h
                WHERE h.tenant_id = t.id AND h.host_name = t.slug || '.' || @domain AND h.status = 'verified')
            ORDER BY t.slug
            """,
            new { domain }, cancellationToken: cancellationToken))).AsList();
        foreach (var slug in stale)
        {
            await ReconcileAsync(connection, slug, domain, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ReconcileAsync(NpgsqlConnection connection, string slug, string domain, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var tenant = await connection.QuerySingleOrDefaultAsync<(Guid Id, long Revision)?>(new CommandDefinition(
            "SELECT id, revision FROM tenants WHERE slug = @slug FOR UPDATE", new { slug }, transaction, cancellationToken: cancellationToken));
        if (tenant is not { } row)
        {
            return;
        }

        // Tenant row, then the revision and its commit lock, then the claims: the order every revision writer follows.
        var revision = await ConfigRevisions.NextAsync(connection, transaction, cancellationToken);
        var configNames = await CertificateStore.ConfigHostNamesAsync(connection, transaction, row.Id, cancellationToken);
        if (await HostNameClaims.RebuildAsync(connection, transaction, row.Id, slug, domain, configNames, now, cancellationToken) is { } conflict)
        {
            // New names start pending and never conflict; a clash here means routing rows another silo wrote meanwhile.
            LogConflict(logger, slug, conflict.Detail);
            return;
        }

        await TenantStore.StampRevisionAsync(connection, transaction, row.Id, revision, now, cancellationToken);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry("system", row.Id, slug, "host_name.reconcile", slug, row.Revision, revision, new { domain }), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogReconciled(logger, slug, domain, revision);
    }

    [LoggerMessage(EventId = 1404, Level = LogLevel.Information, Message = "Tenant {Slug}: host-name claims rebuilt for platform domain {Domain}; revision {Revision}")]
    private static partial void LogReconciled(ILogger logger, string slug, string domain, long revision);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Error, Message = "Tenant {Slug}: host-name claims not rebuilt: {Detail}")]
    private static partial void LogConflict(ILogger logger, string slug, string detail);
}
