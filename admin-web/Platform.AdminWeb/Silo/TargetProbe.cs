using System.Net;
using System.Net.Sockets;
using System.Text;
using Platform.Contracts.Egress;

namespace Platform.AdminWeb.Silo;

/// <summary>
/// The "test connection" buttons: a TCP connect to a forward target, an HTTP request to a webhook,
/// both from the portal host with a short timeout. They say whether the target answers from here,
/// which is a hint, not proof, of what the gateways will see. The target is checked against the operator's
/// egress policy first, as the gateways check it: a host name is resolved once, and the probe connects only to an
/// address the policy allows, so the buttons cannot reach what a tenant's traffic may not.
/// </summary>
public sealed class TargetProbe(IHttpClientFactory clients, TimeProvider time, PortalOptions options)
{
    public const string WebhookClientName = "webhook-probe";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private readonly EgressPolicy _policy = (options.Egress ?? new EgressOptions()).ToPolicy();

    public async Task<ProbeResult> ConnectTcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(host) || port is < 1 or > 65535)
        {
            return new ProbeResult(false, "Enter a host and a port between 1 and 65535 first.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        var started = time.GetTimestamp();
        try
        {
            var endPoint = await ResolveAllowedAsync(host.Trim(), port, timeout.Token);
            using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(endPoint, timeout.Token);
            return new ProbeResult(true, $"Connected to {host}:{port} ({endPoint.Address}) in {time.GetElapsedTime(started).TotalMilliseconds:0} ms.");
        }
        catch (EgressRefusedException e)
        {
            return new ProbeResult(false, e.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"No answer from {host}:{port} within {Timeout.TotalSeconds:0} s.");
        }
        catch (SocketException e)
        {
            return new ProbeResult(false, $"Could not connect to {host}:{port}: {e.SocketErrorCode} ({e.Message}).");
        }
    }

    public async Task<ProbeResult> PostWebhookAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url?.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return new ProbeResult(false, "Enter an absolute http or https URL first.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new StringContent("{\"type\":\"ping\"}", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("X-Platform-Event", "ping");
        try
        {
            using var response = await clients.CreateClient(WebhookClientName).SendAsync(request, timeout.Token);
            var status = (int)response.StatusCode;
            return new ProbeResult(response.IsSuccessStatusCode, $"{uri.GetLeftPart(UriPartial.Path)} answered HTTP {status} {response.ReasonPhrase}.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"No answer from {uri.Host} within {Timeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException e) when (e.InnerException is EgressRefusedException refused)
        {
            return new ProbeResult(false, refused.Message);
        }
        catch (HttpRequestException e)
        {
            return new ProbeResult(false, $"Request to {uri.Host} failed: {e.Message}");
        }
    }

    /// <summary>
    /// The connect step of the webhook probe's HTTP client: the same policy check as <see cref="ConnectTcpAsync"/>, so the
    /// request goes to the address that was checked.
    /// </summary>
    public async ValueTask<Stream> ConnectHttpAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endPoint = await ResolveAllowedAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The first address of <paramref name="host"/> the egress policy allows; throws <see cref="EgressRefusedException"/> when none.</summary>
    private async Task<IPEndPoint> ResolveAllowedAsync(string host, int port, CancellationToken cancellationToken)
    {
        var parsed = EgressHost.Parse(host);
        IReadOnlyList<IPAddress> addresses = parsed.Kind switch
        {
            EgressHostKind.Invalid => throw new EgressRefusedException($"'{host}' is not a host name or an IP address."),
            EgressHostKind.Name => await Dns.GetHostAddressesAsync(parsed.Name!, cancellationToken),
            _ => parsed.LiteralAddresses,
        };
        EgressVerdict? refused = null;
        foreach (var address in addresses)
        {
            var verdict = _policy.Evaluate(address);
            if (verdict.Allowed)
            {
                return new IPEndPoint(address, port);
            }

            refused ??= verdict;
        }

        throw new EgressRefusedException(refused is { } r
            ? $"{host} is refused by the egress policy ({r.Class} address); the gateways would not connect to it either."
            : $"{host} has no address.");
    }

    private sealed class EgressRefusedException(string message) : Exception(message);
}

/// <summary>Outcome of a probe, as shown to the operator.</summary>
public sealed record ProbeResult(bool Success, string Message);
