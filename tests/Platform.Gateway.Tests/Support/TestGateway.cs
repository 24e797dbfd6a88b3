using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Gateway.Connections;
using Platform.Gateway.Hosting;
using Platform.Gateway.Silo;
using Platform.Gateway.Tenants;
using Platform.Testing;

namespace Platform.Gateway.Tests.Support;

/// <summary>A real gateway process in-process: real Kestrel listeners on free loopback ports.</summary>
internal sealed class TestGateway : IAsyncDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly WebApplication _app;
    private readonly bool _ownsState;

    private TestGateway(WebApplication app, string stateDirectory, bool ownsState)
    {
        _app = app;
        StateDirectory = stateDirectory;
        _ownsState = ownsState;
    }

    public string StateDirectory { get; }

    public IServiceProvider Services => _app.Services;

    public GatewayListeners Listeners => Services.GetRequiredService<GatewayListeners>();

    public TenantSnapshotStore Store => Services.GetRequiredService<TenantSnapshotStore>();

    public ConnectionRegistry Registry => Services.GetRequiredService<ConnectionRegistry>();

    public string NodeId => Services.GetRequiredService<GatewayNode>().NodeId;

    public IPEndPoint WsEndPoint => new(IPAddress.Loopback, Listeners.WsPort);

    public IPEndPoint WssEndPoint => new(IPAddress.Loopback, Listeners.WssPort);

    public IPEndPoint TlsEndPoint => new(IPAddress.Loopback, Listeners.TlsPort);

    public int DtlsPort => Listeners.DtlsPort;

    public Uri WsUri(string slug, string path = "") => new($"ws://127.0.0.1:{Listeners.WsPort}/t/{slug}/{path}");

    /// <summary>The admin listener (health).</summary>
    public Uri AdminUri => new($"http://127.0.0.1:{Listeners.AdminPort}/");

    /// <summary>The snapshot key of every test gateway of this test run, so a gateway started again on a state directory opens its snapshot.</summary>
    public static string SnapshotKey { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// The settings every test gateway starts from (before a test's own): its cluster client connecting to
    /// <paramref name="siloEndpoint"/>, listeners on loopback ports the system picks, short report intervals, loopback
    /// backends allowed, a client certificate of the test cluster CA. No snapshot key and no state directory.
    /// </summary>
    public static Dictionary<string, string?> Settings(string siloEndpoint)
    {
        var values = new Dictionary<string, string?>
        {
            ["Platform:SiloEndpoints:0"] = siloEndpoint,
            ["Platform:NodeName"] = "gwtest",
            ["Platform:PlatformDomain"] = "platform.test",
            ["Platform:ListenAddress"] = "127.0.0.1",
            ["Platform:WsPort"] = "0",
            ["Platform:WssPort"] = "0",
            ["Platform:TlsPort"] = "0",
            ["Platform:DtlsPort"] = "0",
            ["Platform:AdminPort"] = "0",
            ["Platform:LeaseSyncMilliseconds"] = "100",
            ["Platform:EventFlushMilliseconds"] = "100",
            ["Platform:CounterReportSeconds"] = "1",
            ["Platform:ConfigWaitSeconds"] = "2",
            // The tests' backends listen on loopback, which the default egress policy refuses; "" restores the default.
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
        };
        // The test silos run with the test process's cluster CA; a gateway presents a client certificate of it.
        foreach (var (key, value) in ClusterCertificates.Cluster.Gateway.Settings())
        {
            values[key] = value;
        }

        return values;
    }

    /// <summary>
    /// Starts a gateway whose cluster client connects to <paramref name="siloEndpoint"/> (<c>127.0.0.1:port</c>, an
    /// Orleans gateway port); <paramref name="log"/>, when given, receives every entry from Debug up besides the usual
    /// output.
    /// </summary>
    public static async Task<TestGateway> StartAsync(
        string siloEndpoint,
        string? stateDirectory = null,
        TimeProvider? time = null,
        IDictionary<string, string?>? settings = null,
        RecordingLoggerProvider? log = null)
    {
        var ownsState = stateDirectory is null;
        stateDirectory ??= Directory.CreateTempSubdirectory("gw-test-").FullName;
        var values = Settings(siloEndpoint);
        values["Platform:SnapshotKey"] = SnapshotKey;
        values["Platform:StateDirectory"] = stateDirectory;
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var app = GatewayHost.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(values);
            // GW_TEST_LOG=1 shows the gateways' information logs (cluster connection, registration) when a test needs looking into.
            builder.Logging.SetMinimumLevel(Environment.GetEnvironmentVariable("GW_TEST_LOG") == "1" ? LogLevel.Information : LogLevel.Warning);
            if (log is not null)
            {
                builder.Logging.AddProvider(log);
                builder.Logging.AddFilter<RecordingLoggerProvider>(null, LogLevel.Debug);
            }

            if (time is not null)
            {
                builder.Services.AddSingleton(time);
            }
        });
        await app.StartAsync();
        return new TestGateway(app, stateDirectory, ownsState);
    }

    /// <summary>Waits until the live snapshot satisfies <paramref name="condition"/>.</summary>
    public async Task<GatewaySnapshot> WaitForSnapshotAsync(Func<GatewaySnapshot, bool> condition)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(GatewaySnapshot previous, GatewaySnapshot next) => changed.TrySetResult();
        using var limit = new CancellationTokenSource(WaitLimit);
        while (true)
        {
            Store.Changed += OnChanged;
            try
            {
                var current = Store.Current;
                if (condition(current))
                {
                    return current;
                }

                await changed.Task.WaitAsync(limit.Token);
                changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            finally
            {
                Store.Changed -= OnChanged;
            }
        }
    }

    /// <summary>Waits until the tenant is in the snapshot and, when it is active, its first slots are leased.</summary>
    public async Task<GatewaySnapshot> WaitForTenantAsync(string slug)
    {
        var snapshot = await WaitForSnapshotAsync(s => s.BySlug.ContainsKey(slug));
        var tenant = snapshot.BySlug[slug];
        if (!tenant.Suspended)
        {
            await WaitForLeaseAsync(tenant.Id, 1);
        }

        return snapshot;
    }

    /// <summary>Waits until the node has registered with the silo.</summary>
    public async Task WaitRegisteredAsync()
    {
        var registration = Services.GetRequiredService<GatewayRegistration>();
        using var limit = new CancellationTokenSource(WaitLimit);
        while (!registration.Registered)
        {
            await Task.Delay(20, limit.Token);
        }
    }

    /// <summary>Waits until the lease for a tenant holds at least <paramref name="slots"/>.</summary>
    public async Task WaitForLeaseAsync(Guid tenantId, int slots)
    {
        var leases = Services.GetRequiredService<Platform.Gateway.Admission.LeaseManager>();
        using var limit = new CancellationTokenSource(WaitLimit);
        while (leases.Get(tenantId).Held < slots)
        {
            await Task.Delay(20, limit.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsState)
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
    }
}
