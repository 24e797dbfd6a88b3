using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Silo;

/// <summary>The silo's internal API as this gateway uses it.</summary>
internal sealed class SiloClient : Admission.ILeaseSyncClient, Connections.IConnectionEventClient
{
    private readonly HttpClient _http;
    private readonly GatewayNode _node;

    public SiloClient(HttpClient http, IOptions<GatewayOptions> options, GatewayNode node)
    {
        _http = http;
        _node = node;
        var settings = options.Value;
        _http.BaseAddress = new Uri(settings.SiloUrl.TrimEnd('/') + "/");
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.ClusterSecret);
        _http.Timeout = TimeSpan.FromSeconds(settings.ConfigWaitSeconds + 30);
    }

    public async Task<RegisterGatewayResponse> RegisterAsync(RegisterGatewayRequest request, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(Relative(InternalRoutes.Register), request, PlatformJson.Options, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<RegisterGatewayResponse>(response, cancellationToken);
    }

    /// <summary>Sends a heartbeat; <see cref="GatewayUnknownException"/> when the silo no longer knows this node.</summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(Relative(InternalRoutes.Path(InternalRoutes.Heartbeat, _node.NodeId)), request, PlatformJson.Options, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<HeartbeatResponse>(response, cancellationToken);
    }

    public async Task<ConfigWatchResponse> WatchConfigAsync(long after, int waitSeconds, CancellationToken cancellationToken)
    {
        var path = string.Create(CultureInfo.InvariantCulture, $"{Relative(InternalRoutes.ConfigWatch)}?after={after}&waitSeconds={waitSeconds}");
        using var response = await _http.GetAsync(path, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<ConfigWatchResponse>(response, cancellationToken);
    }

    public async Task<LeaseSyncResponse> SyncLeasesAsync(LeaseSyncRequest request, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(Relative(InternalRoutes.Path(InternalRoutes.Leases, _node.NodeId)), request, PlatformJson.Options, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ReadAsync<LeaseSyncResponse>(response, cancellationToken);
    }

    public async Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(Relative(InternalRoutes.Path(InternalRoutes.ConnectionEvents, _node.NodeId)), batch, PlatformJson.Options, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    /// <summary>Tells the silo this node is stopping; <see cref="GatewayUnknownException"/> when it already was not live.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(Relative(InternalRoutes.Path(InternalRoutes.Leave, _node.NodeId)), content: null, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    private static string Relative(string route) => route.TrimStart('/');

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
        where T : class =>
        await response.Content.ReadFromJsonAsync<T>(PlatformJson.Options, cancellationToken)
            ?? throw new SiloException(response.StatusCode, null, "The silo answered with an empty body.");

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? code = null;
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<SiloProblem>(cancellationToken);
            code = problem?.Code;
        }
        catch (System.Text.Json.JsonException)
        {
            // A body that is not a problem document still leaves the status to act on.
        }

        if (response.StatusCode == HttpStatusCode.NotFound && code == Contracts.Problems.ErrorCodes.GatewayUnknown)
        {
            throw new GatewayUnknownException();
        }

        throw new SiloException(response.StatusCode, code, $"The silo answered {(int)response.StatusCode} {code}.");
    }

    private sealed record SiloProblem(string? Code);
}

/// <summary>The silo refused or failed a request.</summary>
internal class SiloException(HttpStatusCode status, string? code, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public string? Code { get; } = code;
}

/// <summary>The silo does not know this node (reaped or never registered): register again.</summary>
internal sealed class GatewayUnknownException() : SiloException(HttpStatusCode.NotFound, Contracts.Problems.ErrorCodes.GatewayUnknown, "The silo does not know this gateway node.");
