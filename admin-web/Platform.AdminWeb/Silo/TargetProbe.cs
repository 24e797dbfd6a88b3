using System.Net.Sockets;
using System.Text;

namespace Platform.AdminWeb.Silo;

/// <summary>
/// The "test connection" buttons: a TCP connect to a forward target, an HTTP request to a webhook,
/// both from the portal host with a short timeout. They say whether the target answers from here,
/// which is a hint, not proof, of what the gateways will see.
/// </summary>
public sealed class TargetProbe(IHttpClientFactory clients, TimeProvider time)
{
    public const string WebhookClientName = "webhook-probe";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<ProbeResult> ConnectTcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(host) || port is < 1 or > 65535)
        {
            return new ProbeResult(false, "Enter a host and a port between 1 and 65535 first.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        var started = time.GetTimestamp();
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(host.Trim(), port, timeout.Token);
            return new ProbeResult(true, $"Connected to {host}:{port} in {time.GetElapsedTime(started).TotalMilliseconds:0} ms.");
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
        catch (HttpRequestException e)
        {
            return new ProbeResult(false, $"Request to {uri.Host} failed: {e.Message}");
        }
    }
}

/// <summary>Outcome of a probe, as shown to the operator.</summary>
public sealed record ProbeResult(bool Success, string Message);
