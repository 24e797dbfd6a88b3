using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Config;
using Platform.Contracts.Events;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Gateway.Delivery;
using Platform.Gateway.Egress;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// The gateway's one way to call a tenant's webhook, over the platform's <see cref="WebhookHttpClient"/> (no redirects,
/// bodies read up to <see cref="MaxAnswerBytes"/>, every request signed with <see cref="WebhookSignature"/>, the format
/// the silo's lifecycle events use, and carrying its event id). Every connection is opened by the
/// <see cref="EgressConnector"/> (the URL's host resolved once, every address checked against the operator's egress
/// policy and the gateway's own endpoints, the socket connected to the address that passed), and a URL receives nothing
/// before it has passed the validation handshake: an <c>OPTIONS</c> request with <c>WebHook-Request-Origin</c> answered
/// by a 2xx with <c>WebHook-Allowed-Origin</c> naming that origin or <c>*</c> (the CloudEvents webhook abuse
/// protection), so the platform cannot be made to flood a URL that never asked for it. A passed handshake holds for
/// <see cref="ValidationLifetime"/>, a failed one is remembered for <see cref="ValidationRetry"/>.
/// </summary>
internal sealed partial class WebhookHttp : IDisposable
{
    /// <summary>Largest answer body read; a larger one fails the request (<see cref="WebhookFailures.TooLarge"/>).</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    /// <summary>How long a passed validation handshake holds for a URL.</summary>
    public static readonly TimeSpan ValidationLifetime = TimeSpan.FromHours(1);

    /// <summary>How long a failed validation handshake is remembered before the URL is asked again.</summary>
    public static readonly TimeSpan ValidationRetry = TimeSpan.FromSeconds(5);

    private readonly WebhookHttpClient _client;
    private readonly string _origin;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookHttp> _logger;
    private readonly ConcurrentDictionary<string, Validation> _validations = new(StringComparer.Ordinal);

    public WebhookHttp(EgressConnector egress, IOptions<GatewayOptions> options, TimeProvider time, ILogger<WebhookHttp> logger)
    {
        _origin = options.Value.PlatformDomain;
        _time = time;
        _logger = logger;
        _client = new WebhookHttpClient(
            async (tenant, endpoint, cancellationToken) =>
            {
                try
                {
                    var socket = await egress.ConnectAsync(tenant, endpoint.Host, endpoint.Port, SocketType.Stream, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch (BackendUnreachableException e) when (e.Refusal == RefusalReason.BackendForbidden)
                {
                    throw new WebhookEgressException(e.Message, e);
                }
            },
            MaxAnswerBytes,
            maxHeaderKilobytes: 16,
            time);
    }

    /// <summary>
    /// POSTs <paramref name="body"/> (JSON) to the tenant's webhook as event <paramref name="eventId"/> of
    /// <paramref name="eventType"/>, within the webhook's <c>timeoutSeconds</c> (the validation handshake included),
    /// signed with the current secret and, while it is still live, with <paramref name="previous"/> as well.
    /// </summary>
    public async Task<WebhookAnswer> PostAsync(
        string tenant, WebhookConfig webhook, PreviousWebhookSecret? previous, string eventType, string eventId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(webhook.Secret))
        {
            return WebhookAnswer.Failed(WebhookFailures.NoSecret);
        }

        var url = new Uri(webhook.Url);
        var timeout = TimeSpan.FromSeconds(webhook.TimeoutSeconds);
        var started = Stopwatch.GetTimestamp();
        if (await ValidatedAsync(tenant, url, timeout, cancellationToken) is { } refused)
        {
            return refused;
        }

        var left = timeout - Stopwatch.GetElapsedTime(started);
        if (left <= TimeSpan.Zero)
        {
            return WebhookAnswer.Failed(WebhookFailures.Timeout);
        }

        var exchange = await _client.PostAsync(url, new WebhookPost(tenant, eventId, eventType, null, body, webhook.Secret, previous?.At(_time.GetUtcNow())), left, cancellationToken);
        return exchange.Answered ? new WebhookAnswer(exchange.Status, exchange.Body.ToArray(), null) : Failed(tenant, exchange);
    }

    /// <summary>Null when <paramref name="url"/> has passed the handshake (now or within its lifetime), else the failed answer.</summary>
    private async Task<WebhookAnswer?> ValidatedAsync(string tenant, Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var key = url.OriginalString;
        if (_validations.TryGetValue(key, out var known) && known.Until > now)
        {
            return known.Passed ? null : WebhookAnswer.Failed(WebhookFailures.NotValidated);
        }

        var exchange = await _client.ValidateAsync(tenant, url, _origin, timeout, cancellationToken);
        if (exchange.Failure is not (WebhookExchangeFailure.None or WebhookExchangeFailure.NotValidated
            or WebhookExchangeFailure.Redirect or WebhookExchangeFailure.TooLarge))
        {
            // No answer at all: nothing is remembered, the next event asks again. The failure says that the handshake is
            // what failed, and why; a URL the egress policy forbids stays a refusal of its own.
            var unanswered = Failed(tenant, exchange);
            return unanswered.Failure switch
            {
                WebhookFailures.Timeout => WebhookAnswer.Failed(WebhookFailures.NotValidatedTimeout),
                WebhookFailures.Unreachable => WebhookAnswer.Failed(WebhookFailures.NotValidatedUnreachable),
                _ => unanswered,
            };
        }

        var passed = exchange.Answered;
        _validations[key] = new Validation(passed, now + (passed ? ValidationLifetime : ValidationRetry));
        if (passed)
        {
            return null;
        }

        Log.NotValidated(_logger, tenant);
        return WebhookAnswer.Failed(WebhookFailures.NotValidated);
    }

    private WebhookAnswer Failed(string tenant, WebhookExchange exchange)
    {
        switch (exchange.Failure)
        {
            case WebhookExchangeFailure.Redirect:
                return new WebhookAnswer(exchange.Status, [], WebhookFailures.Redirect);
            case WebhookExchangeFailure.TooLarge:
                return new WebhookAnswer(exchange.Status, [], WebhookFailures.TooLarge);
            case WebhookExchangeFailure.Timeout:
                return WebhookAnswer.Failed(WebhookFailures.Timeout);
            case WebhookExchangeFailure.EgressRefused:
                return WebhookAnswer.Failed(WebhookFailures.Forbidden);
            default:
                // The egress connector's own refusals (unreachable backends) are counted where it decides; other faults are logged here.
                if (exchange.Exception is { } fault && !FromEgressConnector(fault))
                {
                    Log.RequestFailed(_logger, tenant, (fault as HttpRequestException)?.HttpRequestError ?? HttpRequestError.Unknown, fault.Message);
                }

                return WebhookAnswer.Failed(WebhookFailures.Unreachable);
        }
    }

    private static bool FromEgressConnector(Exception exception)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is BackendUnreachableException)
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose() => _client.Dispose();

    private sealed record Validation(bool Passed, DateTimeOffset Until);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Tenant {Tenant}: the webhook URL did not pass the validation handshake (OPTIONS with WebHook-Request-Origin); nothing is sent to it")]
        public static partial void NotValidated(ILogger logger, string tenant);

        [LoggerMessage(EventId = 5302, Level = LogLevel.Debug, Message = "Tenant {Tenant}: webhook request failed ({Error}: {Message})")]
        public static partial void RequestFailed(ILogger logger, string tenant, HttpRequestError error, string message);
    }
}
