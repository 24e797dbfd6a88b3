using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Gateway.Tests.Support;

/// <summary>A real silo on a real port over a fresh PostgreSQL database, with tenant helpers.</summary>
internal sealed class SiloFixture : IAsyncDisposable
{
    private SiloFixture(TestDatabase database, SiloApp silo, TcpRelay? relay)
    {
        Database = database;
        Silo = silo;
        Relay = relay;
        Operator = silo.OperatorClient();
        Operator.BaseAddress = silo.BaseAddress;
    }

    public TestDatabase Database { get; }

    public SiloApp Silo { get; }

    public HttpClient Operator { get; }

    public Uri Url => Silo.BaseAddress;

    /// <summary>The silo's Orleans gateway endpoint, which gateways connect to (the relay's, when there is one).</summary>
    public string ClusterEndpoint => Relay?.Endpoint ?? Silo.ClusterGatewayEndpoint;

    /// <summary>With <c>behindRelay</c>: the relay every gateway reaches the silo through, which can be cut.</summary>
    public TcpRelay? Relay { get; }

    /// <param name="behindRelay">
    /// Gateways reach the silo's Orleans gateway through a <see cref="TcpRelay"/> (<see cref="Relay"/>), to cut them off
    /// as a partition would. The silo advertises the relay's port, since an Orleans client accepts a connection only
    /// from the address it dialled; so every gateway of the silo goes through it, and a cut may spare the connections
    /// accepted before a mark.
    /// </param>
    public static async Task<SiloFixture> StartAsync(IDictionary<string, string?>? settings = null, bool behindRelay = false)
    {
        var database = await TestDatabase.CreateAsync();
        var values = new Dictionary<string, string?>
        {
            ["Platform:HeartbeatIntervalSeconds"] = "1",
            ["Platform:HeartbeatTimeoutSeconds"] = "5",
            // Forward targets on loopback (the tests' backends) pass the silo's egress check; "" restores the default.
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        TcpRelay? relay = null;
        Action<IServiceCollection>? services = null;
        if (behindRelay)
        {
            var listening = FreePorts.Tcp();
            relay = new TcpRelay(listening);
            var advertised = int.Parse(relay.Endpoint.Split(':')[1], CultureInfo.InvariantCulture);
            values["Platform:Cluster:GatewayPort"] = listening.ToString(CultureInfo.InvariantCulture);
            services = s => s.PostConfigure<EndpointOptions>(o =>
            {
                o.GatewayPort = advertised;
                o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Loopback, listening);
            });
        }

        var silo = new SiloApp(database, values, services, useKestrel: true);
        _ = silo.BaseAddress;
        return new SiloFixture(database, silo, relay);
    }

    public Task<TestGateway> StartGatewayAsync(string? stateDirectory = null, TimeProvider? time = null, IDictionary<string, string?>? settings = null) =>
        TestGateway.StartAsync(ClusterEndpoint, stateDirectory, time, settings);

    public async Task<TenantResponse> CreateTenantAsync(string slug, TenantConfig? config = null)
    {
        var body = JsonSerializer.Serialize(new CreateTenantRequest(slug, $"Tenant {slug}", config), PlatformJson.Options);
        using var response = await Operator.PostAsync(new Uri("/v1/tenants", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<TenantResponse>(PlatformJson.Options))!;
    }

    /// <summary>Polls the directory until a connection matching <paramref name="predicate"/> is listed.</summary>
    public async Task<ConnectionResponse> WaitForConnectionAsync(string slug, Func<ConnectionResponse, bool> predicate, string state = "open")
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var page = await Operator.GetFromJsonAsync<Page<ConnectionResponse>>(
                new Uri($"/v1/tenants/{slug}/connections?state={state}", UriKind.Relative), PlatformJson.Options, limit.Token);
            var match = page!.Items.FirstOrDefault(predicate);
            if (match is not null)
            {
                return match;
            }

            await Task.Delay(50, limit.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Operator.Dispose();
        await Silo.DisposeAsync();
        if (Relay is not null)
        {
            await Relay.DisposeAsync();
        }

        await Database.DisposeAsync();
    }
}
