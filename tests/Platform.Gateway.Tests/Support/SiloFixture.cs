using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
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
    private readonly Dictionary<string, string?> _values;
    private readonly Action<IServiceCollection>? _services;
    private readonly string _operatorKey;
    private SiloApp? _silo;
    private HttpClient? _operator;

    private SiloFixture(TestDatabase database, Dictionary<string, string?> values, Action<IServiceCollection>? services, TcpRelay? relay)
    {
        Database = database;
        _values = values;
        _services = services;
        _operatorKey = values["Platform:OperatorKey"]!;
        Relay = relay;
        StartSilo();
    }

    public TestDatabase Database { get; }

    public SiloApp Silo => _silo ?? throw new InvalidOperationException("The silo is stopped.");

    public HttpClient Operator => _operator ?? throw new InvalidOperationException("The silo is stopped.");

    /// <summary>Stops the silo (its database and ports stay, for <see cref="StartSiloAgainAsync"/>).</summary>
    public async Task StopSiloAsync()
    {
        _operator?.Dispose();
        _operator = null;
        if (_silo is { } silo)
        {
            _silo = null;
            await silo.DisposeAsync();
        }
    }

    /// <summary>Starts the silo again over the same database, with the same keys and Orleans ports.</summary>
    public Task StartSiloAgainAsync()
    {
        StartSilo();
        return Task.CompletedTask;
    }

    private void StartSilo()
    {
        var silo = new SiloApp(Database, _values, _services, useKestrel: true);
        _ = silo.BaseAddress;
        _silo = silo;
        _operator = silo.ClientWith(_operatorKey);
        _operator.BaseAddress = silo.BaseAddress;
    }

    public Uri Url => Silo.BaseAddress;

    /// <summary>The silo's Orleans gateway endpoint, which gateways connect to (the relay's, when there is one).</summary>
    public string ClusterEndpoint => Relay?.Endpoint ?? $"127.0.0.1:{_values["Platform:Cluster:GatewayPort"]}";

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
            // Fixed here rather than drawn by each SiloApp: a silo started again keeps them.
            ["Platform:MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Platform:OperatorKey"] = "op_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
            ["Platform:Cluster:SiloPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture),
            ["Platform:Cluster:GatewayPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture),
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

        return new SiloFixture(database, values, services, relay);
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
        await StopSiloAsync();
        if (Relay is not null)
        {
            await Relay.DisposeAsync();
        }

        await Database.DisposeAsync();
    }
}
