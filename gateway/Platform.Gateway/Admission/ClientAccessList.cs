using System.Net;
using Platform.Contracts.Config;

namespace Platform.Gateway.Admission;

/// <summary>
/// A compiled AllowedClients / BlockedClients list. Address entries are matched against the client's
/// address on accept. Host-name entries are matched only against names the gateway already resolved
/// for that address off the hot path (see <see cref="ReverseDnsCache"/>): accepting a connection never
/// waits on DNS, so the first connection from an address not yet resolved matches address entries only.
/// </summary>
internal sealed class ClientAccessList
{
    public static readonly ClientAccessList Empty = new([], [], matchesAll: false);
    public static readonly ClientAccessList Everyone = new([], [], matchesAll: true);

    private readonly ClientListEntry[] _addressEntries;
    private readonly ClientListEntry[] _hostEntries;

    private ClientAccessList(ClientListEntry[] addressEntries, ClientListEntry[] hostEntries, bool matchesAll)
    {
        _addressEntries = addressEntries;
        _hostEntries = hostEntries;
        MatchesAll = matchesAll;
    }

    public bool MatchesAll { get; }

    public bool HasHostNameEntries => _hostEntries.Length > 0;

    public bool IsEmpty => !MatchesAll && _addressEntries.Length == 0 && _hostEntries.Length == 0;

    public static bool TryCompile(string? text, out ClientAccessList list, out string? error)
    {
        list = Empty;
        if (!ClientList.TryParse(text, out var entries, out error))
        {
            return false;
        }

        var addresses = new List<ClientListEntry>();
        var hosts = new List<ClientListEntry>();
        foreach (var entry in entries)
        {
            if (entry.Kind == ClientListEntryKind.Any)
            {
                list = Everyone;
                return true;
            }

            (entry.Kind == ClientListEntryKind.HostName ? hosts : addresses).Add(entry);
        }

        list = addresses.Count == 0 && hosts.Count == 0 ? Empty : new ClientAccessList([.. addresses], [.. hosts], matchesAll: false);
        return true;
    }

    /// <summary>Whether the client matches; <paramref name="hostNames"/> are names already resolved for it (may be empty).</summary>
    public bool Matches(IPAddress client, IReadOnlyList<string> hostNames)
    {
        if (MatchesAll)
        {
            return true;
        }

        foreach (var entry in _addressEntries)
        {
            if (entry.Matches(client))
            {
                return true;
            }
        }

        if (_hostEntries.Length != 0)
        {
            for (var i = 0; i < hostNames.Count; i++)
            {
                foreach (var entry in _hostEntries)
                {
                    if (entry.MatchesHostName(hostNames[i]))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
