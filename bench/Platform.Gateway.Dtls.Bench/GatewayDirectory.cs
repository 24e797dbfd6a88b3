using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// The silo's connection directory (<c>GET /v1/tenants/{slug}/connections</c>, operator key) as the harness reads it:
/// how many open DTLS sessions of one gateway (told apart by its DTLS port) it lists as served by an engine.
/// </summary>
internal sealed class GatewayDirectory : IDisposable
{
    private const int PageSize = 1000;

    private readonly HttpClient _http;
    private readonly string _slug;
    private readonly int _port;

    public GatewayDirectory(Uri silo, string operatorKey, string slug, int port)
    {
        _http = new HttpClient { BaseAddress = silo, Timeout = TimeSpan.FromSeconds(60) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", operatorKey);
        _slug = slug;
        _port = port;
    }

    /// <summary>Polls until at least <paramref name="expected"/> are listed or the time is up; the last count.</summary>
    public async Task<int> WaitForOpenAsync(string engine, int expected, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var listed = await CountOpenAsync(engine);
            if (listed >= expected || DateTime.UtcNow >= deadline)
            {
                return listed;
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Open DTLS connections on this gateway's port whose <c>tls.engine</c> is <paramref name="engine"/>.</summary>
    public async Task<int> CountOpenAsync(string engine)
    {
        var count = 0;
        for (var offset = 0; ; offset += PageSize)
        {
            var path = string.Create(CultureInfo.InvariantCulture, $"v1/tenants/{_slug}/connections?state=open&protocol=dtls&limit={PageSize}&offset={offset}");
            using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}: {body}");
            }

            using var page = JsonDocument.Parse(body);
            var items = page.RootElement.GetProperty("items");
            foreach (var item in items.EnumerateArray())
            {
                if (item.GetProperty("localPort").GetInt32() == _port
                    && item.TryGetProperty("tls", out var tls) && tls.ValueKind == JsonValueKind.Object
                    && tls.TryGetProperty("engine", out var served) && served.GetString() == engine)
                {
                    count++;
                }
            }

            if (items.GetArrayLength() < PageSize)
            {
                return count;
            }
        }
    }

    public void Dispose() => _http.Dispose();
}
