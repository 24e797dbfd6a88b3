using System.Net;
using System.Net.Sockets;
using Platform.Contracts.Egress;
using Platform.Contracts.Events;

namespace Platform.Silo.Events;

/// <summary>
/// The silo's side of the platform's <see cref="WebhookHttpClient"/>: every connection it opens goes through
/// <see cref="ConnectAsync"/>, which resolves the host and checks every address against the operator's egress policy at
/// the moment of connecting, so a name that resolves to a refused address (DNS rebinding included) is never reached; and
/// every outcome becomes a <see cref="WebhookAttempt"/> with its stable error code (docs/webhooks.md). No proxy, no
/// redirects (a 3xx fails the attempt), at most <see cref="EventOptions.MaxResponseBytes"/> of a response body read, and
/// the whole exchange bounded by the tenant's <c>timeoutSeconds</c>.
/// </summary>
internal sealed class WebhookClient : IDisposable
{
    private readonly WebhookHttpClient _http;

    public WebhookClient(PlatformOptions options, PlatformClock time)
    {
        var policy = options.EgressPolicy;
        _http = new WebhookHttpClient(
            (_, endpoint, cancellationToken) => ConnectAsync(policy, endpoint, cancellationToken), EventOptions.MaxResponseBytes, maxHeaderKilobytes: 64, time);
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
    public async Task<WebhookAttempt> ValidateAsync(string tenant, Uri url, string origin, TimeSpan timeout, CancellationToken stopping) =>
        Attempt(await _http.ValidateAsync(tenant, url, origin, timeout, stopping));

    /// <summary>POSTs one event; success is a 2xx answer whose body (ignored) fits the limit.</summary>
    public async Task<WebhookAttempt> PostAsync(Uri url, WebhookPost post, TimeSpan timeout, CancellationToken stopping) =>
        Attempt(await _http.PostAsync(url, post, timeout, stopping));

    private static WebhookAttempt Attempt(WebhookExchange exchange) => exchange.Failure switch
    {
        WebhookExchangeFailure.None when exchange.Status is >= 200 and <= 299 => WebhookAttempt.Ok(exchange.Status),
        WebhookExchangeFailure.None => WebhookAttempt.Failed(WebhookErrors.HttpStatus, exchange.Status),
        WebhookExchangeFailure.NotValidated => WebhookAttempt.Failed(WebhookErrors.ValidationFailed, exchange.Status),
        WebhookExchangeFailure.Redirect => WebhookAttempt.Failed(WebhookErrors.Redirect, exchange.Status),
        WebhookExchangeFailure.TooLarge => WebhookAttempt.Failed(WebhookErrors.ResponseTooLarge, exchange.Status),
        WebhookExchangeFailure.Timeout => WebhookAttempt.Failed(WebhookErrors.Timeout),
        WebhookExchangeFailure.EgressRefused => WebhookAttempt.Failed(WebhookErrors.EgressRefused),
        WebhookExchangeFailure.ConnectFailed => WebhookAttempt.Failed(WebhookErrors.ConnectFailed),
        _ => WebhookAttempt.Failed(WebhookErrors.BadResponse),
    };

    public void Dispose() => _http.Dispose();
}
