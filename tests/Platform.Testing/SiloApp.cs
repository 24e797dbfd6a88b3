using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Platform.Testing;

/// <summary>
/// A real silo over a real, private PostgreSQL database. By default it is served in memory; with
/// <c>useKestrel</c> it listens on a real loopback port (for gateways and real clients), see <see cref="BaseAddress"/>.
/// </summary>
public sealed class SiloApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public SiloApp(TestDatabase database, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, bool useKestrel = false)
    {
        ArgumentNullException.ThrowIfNull(database);
        Database = database;
        OperatorKey = "op_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        ClusterSecret = "cs_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        _settings = new Dictionary<string, string?>
        {
            ["Platform:ConnectionString"] = database.ConnectionString,
            ["Platform:MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Platform:OperatorKey"] = OperatorKey,
            ["Platform:ClusterSecret"] = ClusterSecret,
            ["Platform:Domain"] = "platform.test",
            // Host-name checks ask DNS: a test that does not start its own server gets a closed loopback port, never the
            // system's resolvers (tests send nothing off this machine).
            ["Platform:DnsServers:0"] = "127.0.0.1:9",
            ["Platform:DnsTimeoutMilliseconds"] = "1000",
            // Each test silo is its own Orleans cluster (its own database) on ports of its own.
            ["Platform:Cluster:SiloPort"] = FreePorts.Tcp().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Platform:Cluster:GatewayPort"] = FreePorts.Tcp().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        _services = services;
        _useKestrel = useKestrel;
        if (useKestrel)
        {
            UseKestrel(0);
        }
    }

    private readonly bool _useKestrel;

    public TestDatabase Database { get; }

    public string OperatorKey { get; }

    public string ClusterSecret { get; }

    /// <summary>Base address of the running silo (a real port when started with Kestrel).</summary>
    public Uri BaseAddress
    {
        get
        {
            StartServer();
            if (!_useKestrel)
            {
                return ClientOptions.BaseAddress;
            }

            var address = Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    public HttpClient OperatorClient() => ClientWith(OperatorKey);

    public HttpClient ClientWith(string bearer)
    {
        var client = AnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    /// <summary>
    /// A client without credentials. Under Kestrel it is a plain HttpClient on a real loopback
    /// connection, so concurrent requests really overlap in the server.
    /// </summary>
    public HttpClient AnonymousClient() => _useKestrel
        ? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = BaseAddress }
        : CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.UseSetting("Urls", "http://127.0.0.1:0");
        builder.ConfigureServices(services =>
        {
            // The silo's own clock (PlatformClock.ServiceKey); Orleans inside the silo keeps the system's.
            services.AddKeyedSingleton("platform", Time);
            _services?.Invoke(services);
        });
    }

    /// <summary>The silo's clock: real by default; pass a <see cref="ManualTimeProvider"/> to drive it.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
