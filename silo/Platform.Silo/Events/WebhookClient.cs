using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Platform.Contracts.Egress;
using Platform.Contracts.Events;

namespace Platform.Silo.Events;

/// <summary>
/// The silo's HTTP client for tenants' webhooks. Every connection it opens goes through <see cref="ConnectAsync"/>,
/// which resolves the host and checks every address against the operator's egress policy at the moment of connecting,
/// so a name that resolves to a refused address (DNS rebinding included) is never reached. No proxy, no redirects
/// (a 3xx fails the attempt), at most <see cref="EventOptions.MaxResponseBytes"/> of a response body read, and the whole
/// exchange bounded by the tenant's <c>timeoutSeconds</c>.
/// </summary>
internal sealed class WebhookClient : IDisposable
{
    private readonly HttpClient _http;

    public WebhookClient(PlatformOptions options)
    {
        var policy = options.EgressPolicy;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxResponseHeadersLength = 64,
            ConnectCallback = (context, cancellationToken) => ConnectAsync(policy, context.DnsEndPoint, cancellationToken),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>
    /// Resolves <paramref name="endpoint"/>, refuses it when any address it resolves to is refused by
    /// <paramref name="policy"/> (throwing <see cref="WebhookEgressException"/> before any connect), else connects to
    /// the first address that answers.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(EgressPolicy policy, DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(endpoint);
        var host = EgressHost.Parse(endpoint.Host);
        IPAddress[] addresses = host.Kind switch
        {
            EgressHostKind.Address or EgressHostKind.LoopbackName => [.. host.LiteralAddresses],
            EgressHostKind.Name => await Dns.GetHostAddressesAsync(host.Name!, cancellationToken),
            _ => throw new WebhookEgressException($"'{endpoint.Host}' is not a valid host."),
        };
        if (addresses.Length == 0)
        {
            throw new WebhookEgressException($"'{host}' resolves to no address.");
        }

        foreach (var address in addresses)
        {
            var verdict = policy.Evaluate(address);
            if (!verdict.Allowed)
            {
                throw new WebhookEgressException($"'{host}' resolves to {address} ({verdict.Class}), which the egress policy refuses.");
            }
        }

        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    /// <summary>The validation handshake: <c>OPTIONS</c> with <c>WebHook-Request-Origin</c>, answered 2xx with a matching <c>WebHook-Allowed-Origin</c>.</summary>
    public async Task<WebhookAttempt> ValidateAsync(Uri url, string origin, TimeSpan timeout, CancellationToken stopping)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, url);
        request.Headers.TryAddWithoutValidation(WebhookHeaders.RequestOrigin, origin);
        var attempt = await SendAsync(request, timeout, stopping);
        if (attempt.Attempt is { } failed)
        {
            return failed;
        }

        var (status, allowed) = (attempt.Status, attempt.AllowedOrigins);
        return WebhookHeaders.AllowsOrigin(status, allowed, origin)
            ? WebhookAttempt.Ok(status)
            : WebhookAttempt.Failed(WebhookErrors.ValidationFailed, status);
    }

    /// <summary>POSTs one event; success is a 2xx answer whose body (ignored) fits the limit.</summary>
    public async Task<WebhookAttempt> PostAsync(Uri url, byte[] body, IReadOnlyDictionary<string, string> headers, TimeSpan timeout, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(headers);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var attempt = await SendAsync(request, timeout, stopping);
        return attempt.Attempt ?? WebhookAttempt.Ok(attempt.Status);
    }

    private async Task<(WebhookAttempt? Attempt, int Status, IEnumerable<string>? AllowedOrigins)> SendAsync(
        HttpRequestMessage request, TimeSpan timeout, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            if (status is >= 300 and <= 399)
            {
                return (WebhookAttempt.Failed(WebhookErrors.Redirect, status), status, null);
            }

            if (!await ReadBoundedAsync(response.Content, deadline.Token))
            {
                return (WebhookAttempt.Failed(WebhookErrors.ResponseTooLarge, status), status, null);
            }

            if (status is < 200 or > 299)
            {
                return (WebhookAttempt.Failed(WebhookErrors.HttpStatus, status), status, null);
            }

            var allowed = response.Headers.TryGetValues(WebhookHeaders.AllowedOrigin, out var values) ? values.ToList() : null;
            return (null, status, allowed);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (WebhookAttempt.Failed(WebhookErrors.Timeout), 0, null);
        }
        catch (HttpRequestException e) when (Find<WebhookEgressException>(e) is not null)
        {
            return (WebhookAttempt.Failed(WebhookErrors.EgressRefused), 0, null);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            return (WebhookAttempt.Failed(WebhookErrors.ConnectFailed), 0, null);
        }
        catch (HttpRequestException)
        {
            // The receiver answered something that is not HTTP, or closed mid-answer.
            return (WebhookAttempt.Failed(WebhookErrors.BadResponse), 0, null);
        }
        catch (IOException) when (!stopping.IsCancellationRequested)
        {
            return (WebhookAttempt.Failed(WebhookErrors.BadResponse), 0, null);
        }
    }

    /// <summary>Reads and drops the body; false when it is longer than the limit.</summary>
    private static async Task<bool> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > EventOptions.MaxResponseBytes)
        {
            return false;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[8192];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
            if (total > EventOptions.MaxResponseBytes)
            {
                return false;
            }
        }

        return true;
    }

    private static T? Find<T>(Exception e)
        where T : Exception
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }

    public void Dispose() => _http.Dispose();
}
