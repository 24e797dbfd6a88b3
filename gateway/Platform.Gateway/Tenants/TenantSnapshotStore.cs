using Microsoft.Extensions.Logging;
using Platform.Contracts.Internal;

namespace Platform.Gateway.Tenants;

/// <summary>
/// Holds the live <see cref="GatewaySnapshot"/>. Readers take <see cref="Current"/> once per connection;
/// updates are compiled off the hot path and swapped in whole, so a reader never sees half a change.
/// </summary>
internal sealed partial class TenantSnapshotStore(SnapshotCompiler compiler, ILogger<TenantSnapshotStore> logger)
{
    private readonly Lock _applyLock = new();
    private GatewaySnapshot _current = GatewaySnapshot.Empty;

    /// <summary>Raised after a swap with the previous and the new snapshot, on the applying thread.</summary>
    public event Action<GatewaySnapshot, GatewaySnapshot>? Changed;

    public GatewaySnapshot Current => Volatile.Read(ref _current);

    /// <summary>Applies a watch answer; returns the new snapshot.</summary>
    public GatewaySnapshot Apply(ConfigWatchResponse change)
    {
        ArgumentNullException.ThrowIfNull(change);
        GatewaySnapshot previous, next;
        lock (_applyLock)
        {
            previous = Current;
            if (!change.Full && change.Tenants.Count == 0 && change.RemovedTenantIds.Count == 0 && change.Revision == previous.Revision)
            {
                return previous;
            }

            next = compiler.Apply(previous, change);
            previous = Interlocked.Exchange(ref _current, next);
        }

        Log.Applied(logger, next.Revision, change.Full, next.ById.Count);
        try
        {
            Changed?.Invoke(previous, next);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or System.Net.Sockets.SocketException)
        {
            Log.ChangeHandlerFailed(logger, ex, next.Revision);
        }

        return next;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Config revision {Revision} applied (full: {Full}); {Tenants} tenants")]
        public static partial void Applied(ILogger logger, long revision, bool full, int tenants);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "A listener of config revision {Revision} failed to follow the change")]
        public static partial void ChangeHandlerFailed(ILogger logger, Exception exception, long revision);
    }
}
