using System.Text.Json;
using Npgsql;
using Orleans.Placement;
using Platform.Contracts;
using Platform.Silo.Audit;
using Platform.Silo.Data;

namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// Owns one tenant (key: the slug). Holds the tenant as last committed (<see cref="TenantState"/>), loaded on activation,
/// and answers reads from it. Calls are not interleaved (reads only with reads), and every write runs through
/// <see cref="WriteAsync"/>: in one transaction it locks the tenant row, compares it with the row held in memory and
/// reloads on any difference (another activation or another writer changed the tenant), then decides the command on that
/// state, takes the next global revision, writes, audits, queues the watch notification and commits; memory is replaced
/// by the state read back inside the transaction only once the commit succeeded.
/// </summary>
/// <remarks>
/// Placed on the silo that first receives a call for the tenant, like the quota grain: a single-silo cluster never hops.
/// A grain whose tenant does not exist deactivates when idle, so looking up unknown slugs keeps nothing in memory, and a
/// deleted tenant's slug starts afresh (a later create is a new tenant).
/// </remarks>
[PreferLocalPlacement]
internal sealed partial class TenantGrain(
    NpgsqlDataSource dataSource,
    PlatformClock clock,
    PlatformOptions platform,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private TenantState? _state;

    private string Slug => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        _state = await LoadAsync(connection, transaction, await TenantStore.GetRowAsync(connection, transaction, Slug, false, cancellationToken), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task<TenantState?> GetAsync()
    {
        if (_state is null)
        {
            // Nothing to keep: a lookup of an unknown slug leaves no activation behind once it is answered.
            DeactivateOnIdle();
        }

        return Task.FromResult(_state);
    }

    /// <summary>
    /// The one write routine. Lock order (every tenant writer follows it, so none waits on another while holding the
    /// commit lock): the tenant row, then the revision with its commit lock, then whatever the change touches.
    /// </summary>
    private async Task<TenantReply> WriteAsync(Guid? scope, TenantWriteKind kind, Func<TenantWriteContext, Task<TenantEdit>> change)
    {
        var cancellationToken = CancellationToken.None;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await TenantStore.GetRowAsync(connection, transaction, Slug, true, cancellationToken);
        if (row != _state?.Row)
        {
            // The row is what this activation last saw only if nothing else wrote it since: otherwise decide on what is stored.
            LogReloaded(logger, Slug, _state?.Row.Revision, row?.Revision);
            _state = await LoadAsync(connection, transaction, row, cancellationToken);
        }

        var before = _state;
        if (kind != TenantWriteKind.Create && (before is null || !before.VisibleTo(scope)))
        {
            return new TenantReply(TenantProblem.From(TenantsApi.TenantNotFound(Slug)), null);
        }

        var revision = kind == TenantWriteKind.Plain ? 0 : await ConfigRevisions.NextAsync(connection, transaction, cancellationToken);
        var now = clock.GetUtcNow();
        var edit = await change(new TenantWriteContext(connection, transaction, before, revision, now, cancellationToken));
        if (!edit.Commit)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new TenantReply(edit.Problem, before is null || !before.VisibleTo(scope) ? null : before, Json(edit.Answer));
        }

        if (edit.Stamp)
        {
            await TenantStore.StampRevisionAsync(connection, transaction, before!.Id, revision, now, cancellationToken);
        }

        if (edit.Audit is not null)
        {
            await AuditWriter.WriteAsync(connection, transaction, edit.Audit, now, cancellationToken);
        }

        if (revision != 0)
        {
            await ConfigRevisions.NotifyAsync(connection, transaction, revision, cancellationToken);
        }

        var after = await LoadAsync(connection, transaction, await TenantStore.GetRowAsync(connection, transaction, Slug, false, cancellationToken), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        _state = after;
        if (after is null)
        {
            DeactivateOnIdle();
        }

        return new TenantReply(null, after, Json(edit.Answer), Changed: true);
    }

    private static Task<TenantState?> LoadAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, TenantRowState? row, CancellationToken cancellationToken) =>
        row is null ? Task.FromResult<TenantState?>(null) : LoadStateAsync(connection, transaction, row, cancellationToken);

    private static async Task<TenantState?> LoadStateAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, TenantRowState row, CancellationToken cancellationToken) =>
        await TenantStore.LoadStateAsync(connection, transaction, row, cancellationToken);

    private static string? Json(object? answer) => answer is null ? null : JsonSerializer.Serialize(answer, answer.GetType(), PlatformJson.Options);

    [LoggerMessage(EventId = 7610, Level = LogLevel.Information,
        Message = "Tenant {Slug} changed outside this activation (revision held {Held}, stored {Stored}); reloaded before deciding")]
    private static partial void LogReloaded(ILogger logger, string slug, long? held, long? stored);
}
