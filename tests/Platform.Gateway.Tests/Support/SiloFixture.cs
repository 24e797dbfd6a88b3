using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Gateway.Tests.Support;

/// <summary>A real silo on a real port over a fresh PostgreSQL database, with tenant helpers.</summary>
internal sealed class SiloFixture : IAsyncDisposable
{
    private SiloFixture(TestDatabase database, SiloApp silo)
    {
        Database = database;
        Silo = silo;
        Operator = silo.OperatorClient();
        Operator.BaseAddress = silo.BaseAddress;
    }

    public TestDatabase Database { get; }

    public SiloApp Silo { get; }

    public HttpClient Operator { get; }

    public Uri Url => Silo.BaseAddress;

    /// <summary>The silo's Orleans gateway endpoint, which gateways connect to.</summary>
    public string ClusterEndpoint => Silo.ClusterGatewayEndpoint;

    public static async Task<SiloFixture> StartAsync(IDictionary<string, string?>? settings = null)
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

        var silo = new SiloApp(database, values, useKestrel: true);
        _ = silo.BaseAddress;
        return new SiloFixture(database, silo);
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
        await Database.DisposeAsync();
    }
}
