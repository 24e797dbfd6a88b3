using System.Text;
using DnsClient;
using DnsClient.Protocol;

namespace Platform.Silo.HostNames;

/// <summary>
/// Reads a challenge TXT record from DNS, at <see cref="HostNameOptions.DnsServers"/> (or the system's resolvers),
/// without a cache, so a record the tenant just published is seen on the next check.
/// </summary>
internal sealed partial class ChallengeLookup
{
    private const int MaxValuesShown = 3;
    private const int MaxValueLength = 80;

    private readonly LookupClient _client;
    private readonly ILogger<ChallengeLookup> _logger;

    public ChallengeLookup(HostNameOptions options, ILogger<ChallengeLookup> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var lookupOptions = options.DnsEndPoints.Count > 0
            ? new LookupClientOptions([.. options.DnsEndPoints.Select(e => new NameServer(e))])
            : new LookupClientOptions();
        lookupOptions.Timeout = TimeSpan.FromMilliseconds(options.DnsTimeoutMilliseconds);
        lookupOptions.Retries = 1;
        lookupOptions.UseCache = false;
        lookupOptions.ThrowDnsErrors = false;
        lookupOptions.UseTcpFallback = true;
        _client = new LookupClient(lookupOptions);
        _logger = logger;
    }

    /// <summary>Whether a TXT string at <paramref name="record"/> equals <paramref name="token"/>, and otherwise what was found.</summary>
    public async Task<ChallengeOutcome> CheckAsync(string record, string token, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(record, QueryType.TXT, QueryClass.IN, cancellationToken);
        }
        catch (DnsResponseException e)
        {
            LogFailed(_logger, record, e.Code.ToString());
            return new ChallengeOutcome(false, $"DNS failure: the query for TXT {record} failed ({e.Code}).");
        }

        if (response.HasError)
        {
            if (response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
            {
                return new ChallengeOutcome(false, $"No TXT record at {record} (the name does not exist).");
            }

            LogFailed(_logger, record, response.Header.ResponseCode.ToString());
            return new ChallengeOutcome(false, $"DNS failure: the query for TXT {record} answered {response.Header.ResponseCode}.");
        }

        // A TXT record may be split into several strings; its value is their concatenation.
        var values = response.Answers.TxtRecords().Select(r => string.Concat(r.Text)).ToList();
        if (values.Any(v => string.Equals(v.Trim(), token, StringComparison.Ordinal)))
        {
            return new ChallengeOutcome(true, $"TXT {record} holds the token.");
        }

        if (values.Count == 0)
        {
            return new ChallengeOutcome(false, $"No TXT record at {record}.");
        }

        var shown = string.Join(", ", values.Take(MaxValuesShown).Select(v => "\"" + Printable(v) + "\""));
        var more = values.Count > MaxValuesShown ? $" and {values.Count - MaxValuesShown} more" : "";
        return new ChallengeOutcome(false, $"TXT {record} holds other values: {shown}{more}; none is this claim's token.");
    }

    // What DNS answered is the tenant's text: shown shortened and without control characters.
    private static string Printable(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, MaxValueLength));
        foreach (var c in value.Take(MaxValueLength))
        {
            builder.Append(char.IsControl(c) || c == '"' ? '?' : c);
        }

        return value.Length > MaxValueLength ? builder.Append('…').ToString() : builder.ToString();
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "DNS query for TXT {Record} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string record, string reason);
}

/// <summary>The result of one challenge check: proven or not, and a sentence saying what DNS answered.</summary>
internal sealed record ChallengeOutcome(bool Verified, string Detail);
