using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
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
/// The gateway's one way to call a tenant's webhook. Every connection is opened by the <see cref="EgressConnector"/>
/// (the URL's host resolved once, every address checked against the operator's egress policy and the gateway's own
/// endpoints, the socket connected to the address that passed), redirects are never followed, an answer's body is read
/// up to <see cref="MaxAnswerBytes"/>, every request is signed (<see cref="WebhookSignature"/>, the format the silo's
/// lifecycle events use) and carries its event
/// id, and a URL receives nothing before it has passed the validation handshake: an <c>OPTIONS</c> request with
/// <c>WebHook-Request-Origin</c> answered by a 2xx with <c>WebHook-Allowed-Origin</c> naming that origin or <c>*</c>
/// (the CloudEvents webhook abuse protection), so the platform cannot be made to flood a URL that never asked for it.
/// </summary>
internal sealed partial class WebhookHttp : IDisposable
{
    /// <summary>Largest answer body read; a larger one fails the request (<see cref="WebhookFailures.TooLarge"/>).</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    /// <summary>How long a passed validation handshake holds for a URL.</summary>
    public static readonly TimeSpan ValidationLifetime = TimeSpan.FromHours(1);

    /// <summary>How long a failed validation handshake is remembered before the URL is asked again.</summary>
    public static readonly TimeSpan ValidationRetry = TimeSpan.FromSeconds(5);

    private static readonly HttpRequestOptionsKey<string> TenantKey = new("platform.tenant");

    private readonly HttpClient _client;
    private readonly string _origin;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookHttp> _logger;
    private readonly ConcurrentDictionary<string, Validation> _validations = new(StringComparer.Ordinal);

    public WebhookHttp(EgressConnector egress, IOptions<GatewayOptions> options, TimeProvider time, ILogger<WebhookHttp> logger)
    {
        _origin = options.Value.PlatformDomain;
        _time = time;
        _logger = logger;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            // Pooled connections go back through the egress check (a new resolution) at least this often.
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxResponseHeadersLength = 16,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var tenant = context.InitialRequestMessage.Options.TryGetValue(TenantKey, out var slug) ? slug : "";
                var socket = await egress.ConnectAsync(tenant, context.DnsEndPoint.Host, context.DnsEndPoint.Port, SocketType.Stream, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
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

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(webhook.TimeoutSeconds));
        try
        {
            if (!await ValidatedAsync(tenant, webhook.Url, deadline.Token))
            {
                return WebhookAnswer.Failed(WebhookFailures.NotValidated);
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new ReadOnlyMemoryContent(body) };
            request.Options.Set(TenantKey, tenant);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add(WebhookHeaders.EventId, eventId);
            request.Headers.Add(WebhookHeaders.EventType, eventType);
            request.Headers.Add(WebhookHeaders.Tenant, tenant);
            var now = _time.GetUtcNow();
            request.Headers.Add(WebhookHeaders.Signature, WebhookSignature.Create(now.ToUnixTimeSeconds(), body.Span, webhook.Secret, previous?.At(now)));
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400)
            {
                return new WebhookAnswer(status, [], WebhookFailures.Redirect);
            }

            var answer = await ReadBoundedAsync(response.Content, deadline.Token);
            return answer is null ? new WebhookAnswer(status, [], WebhookFailures.TooLarge) : new WebhookAnswer(status, answer, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WebhookAnswer.Failed(WebhookFailures.Timeout);
        }
        catch (HttpRequestException ex)
        {
            return WebhookAnswer.Failed(Classify(tenant, ex));
        }
    }

    private async Task<bool> ValidatedAsync(string tenant, string url, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_validations.TryGetValue(url, out var known) && known.Until > now)
        {
            return known.Passed;
        }

        using var request = new HttpRequestMessage(HttpMethod.Options, url);
        request.Options.Set(TenantKey, tenant);
        request.Headers.Add(WebhookHeaders.RequestOrigin, _origin);
        bool passed;
        using (var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken))
        {
            passed = WebhookHeaders.AllowsOrigin(
                (int)response.StatusCode, response.Headers.TryGetValues(WebhookHeaders.AllowedOrigin, out var allowed) ? allowed : null, _origin);
        }

        _validations[url] = new Validation(passed, now + (passed ? ValidationLifetime : ValidationRetry));
        if (!passed)
        {
            Log.NotValidated(_logger, tenant);
        }

        return passed;
    }

    /// <summary>The body, or null when it is longer than <see cref="MaxAnswerBytes"/>.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > MaxAnswerBytes)
        {
            return null;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxAnswerBytes + 1];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                return buffer.AsSpan(0, total).ToArray();
            }

            total += read;
        }

        return null;
    }

    private string Classify(string tenant, HttpRequestException exception)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is BackendUnreachableException unreachable)
            {
                return unreachable.Refusal == RefusalReason.BackendForbidden ? WebhookFailures.Forbidden : WebhookFailures.Unreachable;
            }
        }

        Log.RequestFailed(_logger, tenant, exception.HttpRequestError, exception.Message);
        return WebhookFailures.Unreachable;
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
