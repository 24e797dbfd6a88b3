using System.Globalization;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Hosting;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Support;

/// <summary>
/// A real gateway in this process (real Kestrel listeners on free loopback ports) attached to the test silo,
/// seen from outside only: its ports are read from the silo's gateway list, as an operator would.
/// </summary>
internal sealed class LiveGateway : IAsyncDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly WebApplication _app;
    private readonly string _stateDirectory;

    private LiveGateway(WebApplication app, string stateDirectory, GatewayResponse listed)
    {
        _app = app;
        _stateDirectory = stateDirectory;
        Id = listed.Id;
        WsPort = Port(listed, "ws");
        WssPort = Port(listed, "wss");
    }

    public string Id { get; }

    public int WsPort { get; }

    public int WssPort { get; }

    /// <param name="siloEndpoint">The silo's Orleans gateway endpoint (<c>127.0.0.1:port</c>).</param>
    public static async Task<LiveGateway> StartAsync(string siloEndpoint, HttpClient siloOperator)
    {
        ArgumentNullException.ThrowIfNull(siloOperator);
        var nodeName = "gwlive" + Guid.NewGuid().ToString("N")[..6];
        var stateDirectory = Directory.CreateTempSubdirectory("gw-portal-").FullName;
        var app = GatewayHost.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Platform:SiloEndpoints:0"] = siloEndpoint,
                ["Platform:SnapshotKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Platform:NodeName"] = nodeName,
                ["Platform:PlatformDomain"] = "platform.test",
                ["Platform:ListenAddress"] = "127.0.0.1",
                ["Platform:WsPort"] = "0",
                ["Platform:WssPort"] = "0",
                ["Platform:TlsPort"] = "0",
                // Not the fixed default: two live gateways (tests run in parallel) would both bind it.
                ["Platform:DtlsPort"] = "0",
                ["Platform:AdminPort"] = "0",
                ["Platform:StateDirectory"] = stateDirectory,
                ["Platform:LeaseSyncMilliseconds"] = "100",
                ["Platform:EventFlushMilliseconds"] = "100",
                ["Platform:CounterReportSeconds"] = "1",
                ["Platform:ConfigWaitSeconds"] = "2",
                // Backends of tests run on loopback, which the default egress policy refuses.
                ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
            });
            // The test silos run with the test process's cluster CA; the gateway presents a client certificate of it.
            builder.Configuration.AddInMemoryCollection(ClusterCertificates.Cluster.Gateway.Settings());
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        try
        {
            await app.StartAsync();
            using var limit = new CancellationTokenSource(WaitLimit);
            while (true)
            {
                var gateways = await siloOperator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options, limit.Token);
                var listed = gateways!.Items.FirstOrDefault(g => g.Id.StartsWith(nodeName, StringComparison.Ordinal) && g.Status == GatewayStatuses.Up);
                if (listed is not null)
                {
                    return new LiveGateway(app, stateDirectory, listed);
                }

                await Task.Delay(50, limit.Token);
            }
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(stateDirectory, recursive: true);
            throw;
        }
    }

    private static int Port(GatewayResponse gateway, string scheme)
    {
        var listener = gateway.Listeners.Single(l => l.StartsWith(scheme + ":", StringComparison.Ordinal));
        return int.Parse(listener[(scheme.Length + 1)..], NumberStyles.None, CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_stateDirectory, recursive: true);
    }
}
