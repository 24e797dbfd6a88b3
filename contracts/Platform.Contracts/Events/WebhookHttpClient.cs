using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Platform.Contracts.Http;

namespace Platform.Contracts.Events;

/// <summary>
/// The platform's one HTTP client for tenants' webhooks, used by the gateway and the silo alike. Every connection is
/// opened by the connect function it is given, which checks the host's addresses against the caller's egress policy at
/// the moment of connecting (and throws <see cref="WebhookEgressException"/> when it refuses); there is no proxy, no
/// cookie, no decompression, redirects are never followed (a 3xx is <see cref="WebhookExchangeFailure.Redirect"/>), an
/// answer's body is read up to <see cref="MaxAnswerBytes"/>, and every request is bounded by its timeout. Events are
/// POSTed signed (<see cref="WebhookSignature"/>) with the <see cref="WebhookHeaders"/>; the validation handshake is an
/// <c>OPTIONS</c> with <c>WebHook-Request-Origin</c> that passes on a 2xx whose <c>WebHook-Allowed-Origin</c> names the
/// origin or <c>*</c>. Whether and for how long a passed handshake holds is the caller's to keep.
/// </summary>
public sealed class WebhookHttpClient : IDisposable
{
    private static readonly HttpRequestOptionsKey<string> TenantKey = new("platform.tenant");

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    /// <summary>
    /// A client whose connections <paramref name="connect"/> opens (given the tenant, and the URL's host and port), that
    /// reads answers' bodies up to <paramref name="maxAnswerBytes"/> and their headers up to
    /// <paramref name="maxHeaderKilobytes"/>, and signs with <paramref name="time"/>'s clock.
    /// </summary>
    public WebhookHttpClient(
        Func<string, DnsEndPoint, CancellationToken, ValueTask<Stream>> connect, int maxAnswerBytes, int maxHeaderKilobytes, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(connect);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxAnswerBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxHeaderKilobytes);
        ArgumentNullException.ThrowIfNull(time);
        MaxAnswerBytes = maxAnswerBytes;
        _time = time;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            // Pooled connections go back through the egress check (a new resolution) at least this often.
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxResponseHeadersLength = maxHeaderKilobytes,
            ConnectCallback = (context, cancellationToken) => connect(
                context.InitialRequestMessage.Options.TryGetValue(TenantKey, out var tenant) ? tenant : "", context.DnsEndPoint, cancellationToken),
        };
        _http = new HttpClient(new TransportFailureHandler(handler)) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The longest answer body read; a longer one is <see cref="WebhookExchangeFailure.TooLarge"/>.</summary>
    public int MaxAnswerBytes { get; }

    /// <summary>
    /// The validation handshake for <paramref name="url"/> as <paramref name="origin"/>: answered (<see cref="WebhookExchange.Answered"/>)
    /// when it passed, <see cref="WebhookExchangeFailure.NotValidated"/> (with the status) when the receiver answered but did not allow it.
    /// </summary>
    public async Task<WebhookExchange> ValidateAsync(string tenant, Uri url, string origin, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(origin);
        using var request = new HttpRequestMessage(HttpMethod.Options, url);
        request.Headers.Add(WebhookHeaders.RequestOrigin, origin);
        IEnumerable<string>? allowed = null;
        var exchange = await SendAsync(tenant, request, timeout, response => allowed = response.Headers.TryGetValues(WebhookHeaders.AllowedOrigin, out var values) ? [.. values] : null, cancellationToken)
            .ConfigureAwait(false);
        return exchange.Answered && !WebhookHeaders.AllowsOrigin(exchange.Status, allowed, origin)
            ? new WebhookExchange(exchange.Status, ReadOnlyMemory<byte>.Empty, WebhookExchangeFailure.NotValidated)
            : exchange;
    }

    /// <summary>POSTs <paramref name="post"/> to <paramref name="url"/>, signed at this moment; any status is an answer.</summary>
    public async Task<WebhookExchange> PostAsync(Uri url, WebhookPost post, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(post);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ReadOnlyMemoryContent(post.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(WebhookHeaders.Signature, WebhookSignature.Create(_time.GetUtcNow().ToUnixTimeSeconds(), post.Body.Span, post.Secret, post.PreviousSecret));
        request.Headers.Add(WebhookHeaders.EventId, post.EventId);
        request.Headers.Add(WebhookHeaders.EventType, post.EventType);
        if (post.Sequence is { } sequence)
        {
            request.Headers.Add(WebhookHeaders.EventSequence, sequence.ToString(CultureInfo.InvariantCulture));
        }

        request.Headers.Add(WebhookHeaders.Tenant, post.Tenant);
        return await SendAsync(post.Tenant, request, timeout, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task<WebhookExchange> SendAsync(
        string tenant, HttpRequestMessage request, TimeSpan timeout, Action<HttpResponseMessage>? inspect, CancellationToken cancellationToken)
    {
        request.Options.Set(TenantKey, tenant);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400)
            {
                return new WebhookExchange(status, ReadOnlyMemory<byte>.Empty, WebhookExchangeFailure.Redirect);
            }

            var body = await ReadBoundedAsync(response.Content, deadline.Token).ConfigureAwait(false);
            if (body is null)
            {
                return new WebhookExchange(status, ReadOnlyMemory<byte>.Empty, WebhookExchangeFailure.TooLarge);
            }

            inspect?.Invoke(response);
            return new WebhookExchange(status, body, WebhookExchangeFailure.None);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return WebhookExchange.Failed(WebhookExchangeFailure.Timeout, e);
        }
        catch (HttpRequestException e) when (Find<WebhookEgressException>(e) is not null)
        {
            return WebhookExchange.Failed(WebhookExchangeFailure.EgressRefused, e);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            return WebhookExchange.Failed(WebhookExchangeFailure.ConnectFailed, e);
        }
        catch (HttpRequestException e)
        {
            // The receiver answered something that is not HTTP, or closed mid-answer.
            return WebhookExchange.Failed(WebhookExchangeFailure.BadResponse, e);
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            return WebhookExchange.Failed(WebhookExchangeFailure.BadResponse, e);
        }
    }

    /// <summary>The body, or null when it is longer than <see cref="MaxAnswerBytes"/>.</summary>
    private async Task<byte[]?> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > MaxAnswerBytes)
        {
            return null;
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(MaxAnswerBytes + 1);
            try
            {
                var total = 0;
                while (total <= MaxAnswerBytes)
                {
                    var read = await stream.ReadAsync(buffer.AsMemory(total, MaxAnswerBytes + 1 - total), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return buffer.AsSpan(0, total).ToArray();
                    }

                    total += read;
                }

                return null;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static T? Find<T>(Exception e)
        where T : Exception
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
