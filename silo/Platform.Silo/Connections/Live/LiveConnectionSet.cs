namespace Platform.Silo.Connections.Live;

/// <summary>
/// A tenant's open connections in memory: by id, and in listing order (opening time, then id by ordinal, the order of
/// the <c>C</c> collation the platform's database uses for <c>ORDER BY opened_at, id</c>).
/// </summary>
internal sealed class LiveConnectionSet
{
    private static readonly Comparer<LiveConnection> ListingOrder = Comparer<LiveConnection>.Create(static (a, b) =>
    {
        var byTime = a.OpenedAt.CompareTo(b.OpenedAt);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.Id, b.Id);
    });

    private readonly Dictionary<string, LiveConnection> _byId = new(StringComparer.Ordinal);
    private readonly SortedSet<LiveConnection> _ordered = new(ListingOrder);

    public int Count => _byId.Count;

    public LiveConnection? Get(string id) => _byId.GetValueOrDefault(id);

    /// <summary>Replaces everything with <paramref name="connections"/>.</summary>
    public void Load(IEnumerable<LiveConnection> connections)
    {
        Clear();
        foreach (var connection in connections)
        {
            Set(connection);
        }
    }

    public void Clear()
    {
        _byId.Clear();
        _ordered.Clear();
    }

    /// <summary>Adds the connection, or replaces the one with its id.</summary>
    public void Set(LiveConnection connection)
    {
        Remove(connection.Id);
        _byId[connection.Id] = connection;
        _ordered.Add(connection);
    }

    public void Remove(string id)
    {
        if (_byId.Remove(id, out var old))
        {
            _ordered.Remove(old);
        }
    }

    public LiveConnectionPage List(LiveConnectionQuery query)
    {
        var items = new List<LiveConnection>(Math.Min(query.Limit, _byId.Count));
        long total = 0;
        foreach (var connection in _ordered)
        {
            if ((query.Protocol is null || connection.Protocol == query.Protocol)
                && (query.RemoteAddress is null || connection.RemoteAddress == query.RemoteAddress)
                && (query.Gateway is null || connection.GatewayId == query.Gateway))
            {
                if (total >= query.Offset && items.Count < query.Limit)
                {
                    items.Add(connection);
                }

                total++;
            }
        }

        return new LiveConnectionPage(items, total);
    }
}
