using System.Data.Common;
using Dapper;

namespace Platform.Silo.Data;

/// <summary>
/// The single monotonic revision that orders every change gateways can see. A write takes the next
/// value, stamps the tenant with it, and notifies watchers; the notification is delivered on commit.
/// </summary>
internal static class ConfigRevisions
{
    public const string Channel = "config_changed";

    /// <summary>
    /// Advisory lock ordering revision commits: writers hold it exclusively from taking a revision to
    /// commit, watchers take it shared. So revisions commit in order, and a watcher never reports a
    /// cursor past a revision that is still uncommitted (which it would then never see).
    /// </summary>
    public const long CommitLockKey = 0x636F_6E66_6967_7276;

    public static async Task<long> NextAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(@key)", new { key = CommitLockKey }, transaction, cancellationToken: cancellationToken));
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT nextval('config_revision_seq')", transaction: transaction, cancellationToken: cancellationToken));
    }

    /// <summary>Takes the next revision, stamps the tenant with it and queues the watch notification.</summary>
    public static async Task<long> BumpTenantAsync(DbConnection connection, DbTransaction transaction, Guid tenantId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var revision = await NextAsync(connection, transaction, cancellationToken);
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE tenants SET revision = @revision, updated_at = @now WHERE id = @tenantId",
            new { revision, now, tenantId }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
        }

        await NotifyAsync(connection, transaction, revision, cancellationToken);
        return revision;
    }

    public static Task NotifyAsync(DbConnection connection, DbTransaction transaction, long revision, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_notify(@channel, @payload)",
            new { channel = Channel, payload = revision.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            transaction, cancellationToken: cancellationToken));
}
