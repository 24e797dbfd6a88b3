using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Admission;

/// <summary>
/// Forward-confirmed reverse DNS over DnsClient: the PTR names of an address, then the A (or AAAA) records of
/// each name; only names whose forward answer contains the address are returned. Whoever controls an address
/// block writes its PTR records, so a PTR name alone proves nothing; the forward answer comes from the
/// name's own zone.
/// </summary>
internal sealed class ForwardConfirmedResolver : IReverseDnsResolver
{
    /// <summary>PTR names checked per address; each costs one forward query.</summary>
    public const int MaxNamesPerAddress = 4;

    private const int MaxNameLength = 253;
    private readonly LookupClient? _client;
    private readonly TimeSpan _deadline;

    public ForwardConfirmedResolver(IOptions<GatewayOptions> options)
    {
        var settings = options.Value;
        if (!DnsServerListAttribute.TryParse(settings.DnsServers, out var servers, out var error))
        {
            throw new OptionsValidationException(nameof(GatewayOptions.DnsServers), typeof(GatewayOptions), [error!]);
        }

        var timeout = TimeSpan.FromMilliseconds(settings.ReverseDnsTimeoutMilliseconds);
        // The system's servers, read here without DnsClient's fallback to public resolvers: with none, every lookup
        // fails (and host-name entries fail closed) rather than asking a server nobody configured.
        var nameServers = servers.Count > 0
            ? servers.Select(static s => new NameServer(s)).ToArray()
            : NameServer.ResolveNameServers(skipIPv6SiteLocal: true, fallbackToGooglePublicDns: false).ToArray();
        NameServers = nameServers.Select(static s => new IPEndPoint(IPAddress.Parse(s.Address), s.Port)).ToArray();
        _deadline = timeout * 3;
        if (nameServers.Length == 0)
        {
            return;
        }

        var lookup = new LookupClientOptions(nameServers);
        // The cache in front of this resolver keeps answers within its own TTL bounds; a second cache would outlive them.
        lookup.UseCache = false;
        lookup.Timeout = timeout;
        lookup.Retries = 1;
        lookup.ThrowDnsErrors = false;
        lookup.ContinueOnDnsError = true;
        lookup.UseRandomNameServer = false;
        _client = new LookupClient(lookup);
    }

    /// <summary>The servers asked, in order; empty when none is configured and the system names none.</summary>
    public IReadOnlyList<IPEndPoint> NameServers { get; }

    public async Task<ReverseDnsResult> ResolveAsync(IPAddress address, CancellationToken cancellationToken)
    {
        if (_client is null)
        {
            return ReverseDnsResult.Failure("no DNS server is configured");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_deadline);
        try
        {
            return await ResolveWithinAsync(_client, address, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ReverseDnsResult.Failure($"no answer within {_deadline.TotalMilliseconds:0} ms");
        }
        catch (DnsResponseException ex)
        {
            return ReverseDnsResult.Failure(ex.DnsError);
        }
        catch (SocketException ex)
        {
            return ReverseDnsResult.Failure(ex.SocketErrorCode.ToString());
        }
    }

    private static async Task<ReverseDnsResult> ResolveWithinAsync(LookupClient client, IPAddress address, CancellationToken cancellationToken)
    {
        var reverse = await client.QueryReverseAsync(address, cancellationToken);
        if (reverse.HasError)
        {
            return reverse.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain
                ? ReverseDnsResult.NoName(NegativeTimeToLive(reverse))
                : ReverseDnsResult.Failure(reverse.ErrorMessage);
        }

        var claims = new List<(string Name, TimeSpan Ttl)>(MaxNamesPerAddress);
        foreach (var ptr in reverse.Answers.PtrRecords())
        {
            var name = Normalize(ptr.PtrDomainName.Value);
            if (name is not null && !claims.Exists(c => c.Name == name))
            {
                claims.Add((name, TimeSpan.FromSeconds(ptr.TimeToLive)));
                if (claims.Count == MaxNamesPerAddress)
                {
                    break;
                }
            }
        }

        if (claims.Count == 0)
        {
            return ReverseDnsResult.NoName(NegativeTimeToLive(reverse));
        }

        var checks = new Task<Confirmation>[claims.Count];
        for (var i = 0; i < claims.Count; i++)
        {
            checks[i] = ConfirmAsync(client, claims[i].Name, address, cancellationToken);
        }

        var confirmations = await Task.WhenAll(checks);
        var names = new List<string>(claims.Count);
        var ttl = TimeSpan.MaxValue;
        string? failure = null;
        for (var i = 0; i < claims.Count; i++)
        {
            switch (confirmations[i])
            {
                case { Confirmed: true } confirmed:
                    names.Add(claims[i].Name);
                    ttl = Min(ttl, Min(claims[i].Ttl, confirmed.Ttl));
                    break;
                case { Error: { } error }:
                    failure ??= $"{claims[i].Name}: {error}";
                    break;
            }
        }

        if (names.Count > 0)
        {
            return ReverseDnsResult.Confirmed(names, ttl);
        }

        // A name that could not be checked may be the one that confirms: nothing is known until it can be.
        return failure is not null
            ? ReverseDnsResult.Failure(failure)
            : ReverseDnsResult.NoName(claims.Min(c => c.Ttl));
    }

    private static async Task<Confirmation> ConfirmAsync(LookupClient client, string name, IPAddress address, CancellationToken cancellationToken)
    {
        var type = address.AddressFamily == AddressFamily.InterNetworkV6 ? QueryType.AAAA : QueryType.A;
        var forward = await client.QueryAsync(name + ".", type, QueryClass.IN, cancellationToken);
        if (forward.HasError)
        {
            return forward.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain
                ? default
                : new Confirmation(false, TimeSpan.Zero, forward.ErrorMessage);
        }

        foreach (var record in forward.Answers.OfType<AddressRecord>())
        {
            if (record.Address.Equals(address))
            {
                return new Confirmation(true, TimeSpan.FromSeconds(record.TimeToLive), null);
            }
        }

        return default;
    }

    /// <summary>RFC 2308: a negative answer lives as long as the lesser of the SOA's TTL and its MINIMUM field.</summary>
    private static TimeSpan NegativeTimeToLive(IDnsQueryResponse response)
    {
        foreach (var soa in response.Authorities.SoaRecords())
        {
            return TimeSpan.FromSeconds(Math.Min((long)soa.TimeToLive, soa.Minimum));
        }

        return TimeSpan.Zero;
    }

    /// <summary>Lower case without the root dot, or null for a name no access-list entry can match.</summary>
    private static string? Normalize(string name)
    {
        var trimmed = name.TrimEnd('.');
        return trimmed.Length is 0 or > MaxNameLength ? null : trimmed.ToLowerInvariant();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private readonly record struct Confirmation(bool Confirmed, TimeSpan Ttl, string? Error);
}
