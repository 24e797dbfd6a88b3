using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Platform.Gateway.Admission;

/// <summary>
/// Host names of client addresses, resolved in the background for access lists with host-name
/// entries. <see cref="Lookup"/> never blocks: an address not yet resolved yields no names and
/// schedules a lookup, so later connections from it match host-name entries.
/// </summary>
internal sealed partial class ReverseDnsCache(TimeProvider time, ILogger<ReverseDnsCache> logger)
{
    private const int MaxEntries = 10_000;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<IPAddress, Entry> _entries = new();

    public IReadOnlyList<string> Lookup(IPAddress address)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(address, out var entry) && entry.ExpiresAt > now)
        {
            return entry.Names;
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        // The placeholder keeps later connections from starting duplicate lookups until the answer arrives.
        var previous = entry?.Names ?? [];
        _entries[address] = new Entry(previous, now + Ttl);
        _ = ResolveAsync(address);
        return previous;
    }

    /// <summary>Stores names directly (tests, and resolvers that learn names elsewhere).</summary>
    public void Set(IPAddress address, IReadOnlyList<string> names) =>
        _entries[address] = new Entry(names, time.GetUtcNow() + Ttl);

    private async Task ResolveAsync(IPAddress address)
    {
        try
        {
            var host = await Dns.GetHostEntryAsync(address);
            var names = new List<string>(host.Aliases.Length + 1) { host.HostName.ToLowerInvariant() };
            foreach (var alias in host.Aliases)
            {
                names.Add(alias.ToLowerInvariant());
            }

            _entries[address] = new Entry(names, time.GetUtcNow() + Ttl);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            Log.ResolveFailed(logger, address, ex.SocketErrorCode);
        }
    }

    private sealed record Entry(IReadOnlyList<string> Names, DateTimeOffset ExpiresAt);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "No host name for {Address}: {Error}")]
        public static partial void ResolveFailed(ILogger logger, IPAddress address, System.Net.Sockets.SocketError error);
    }
}
