using Dapper;
using Npgsql;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.HostNames;

/// <summary>
/// At start, after the migrations, rebuilds the claims of every tenant whose platform name under the current
/// <c>Platform:Domain</c> is missing: tenants whose names were migrated from before host-name proof (their custom
/// names became pending), and all tenants after the platform domain changed. A tenant already in order costs nothing;
/// a tenant whose grain fails (its state cannot be loaded) is logged and left for the next start, so that one tenant
/// never keeps the control plane from starting.
/// </summary>
internal sealed partial class HostNameReconciler(
    NpgsqlDataSource dataSource, IGrainFactory grains, PlatformOptions platform, ILogger<HostNameReconciler> logger) : IHostedService
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
            // Through the tenant's grain, like every write to a tenant; a tenant deleted meanwhile is answered as missing.
            // One tenant that cannot be loaded keeps its stale claims until the next start; it does not stop the silo.
            try
            {
                await ReconcileAsync(slug, domain);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogFailed(logger, ex, slug);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ReconcileAsync(string slug, string domain)
    {
        var reply = await grains.GetGrain<ITenantGrain>(slug).ReconcileHostNamesAsync(domain);
        if (reply.Problem is { } problem)
        {
            // New names start pending and never conflict; a clash here means routing rows another silo wrote meanwhile.
            LogConflict(logger, slug, problem.Detail ?? problem.Code);
            return;
        }

        if (reply.Tenant is { } tenant)
        {
            LogReconciled(logger, slug, domain, tenant.Row.Revision);
        }
    }

    [LoggerMessage(EventId = 1404, Level = LogLevel.Information, Message = "Tenant {Slug}: host-name claims rebuilt for platform domain {Domain}; revision {Revision}")]
    private static partial void LogReconciled(ILogger logger, string slug, string domain, long revision);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Error, Message = "Tenant {Slug}: host-name claims not rebuilt: {Detail}")]
    private static partial void LogConflict(ILogger logger, string slug, string detail);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Error, Message = "Tenant {Slug}: host-name claims not rebuilt; tried again at the next start")]
    private static partial void LogFailed(ILogger logger, Exception exception, string slug);
}
