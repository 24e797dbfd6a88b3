using System.Collections.Concurrent;
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
/// Every answer of its public API is recorded and, when the silo is disposed, held to the silo's OpenAPI document: an
/// undeclared status, media type or header, or a body that does not match its schema, fails the test that saw it.
/// </summary>
public sealed class SiloApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;
    private readonly ConcurrentQueue<ApiExchange> _exchanges = new();

    public SiloApp(TestDatabase database, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, bool useKestrel = false)
    {
        ArgumentNullException.ThrowIfNull(database);
        Database = database;
        OperatorKey = "op_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        // Two different ports: FreePorts never hands out one port twice.
        var siloPort = FreePorts.Tcp();
        var gatewayPort = FreePorts.Tcp();

        _settings = new Dictionary<string, string?>
        {
            ["Platform:ConnectionString"] = database.ConnectionString,
            ["Platform:MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Platform:OperatorKey"] = OperatorKey,
            // Each test silo is its own Orleans cluster (its own database) on ports of its own.
            ["Platform:Cluster:SiloPort"] = siloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Platform:Cluster:GatewayPort"] = gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in SiloTestSettings.Defaults().Concat(settings ?? new Dictionary<string, string?>()))
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


    /// <summary>The silo's Orleans gateway port on 127.0.0.1, where cluster clients (the gateways) connect.</summary>
    public int ClusterGatewayPort => int.Parse(_settings["Platform:Cluster:GatewayPort"]!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><see cref="ClusterGatewayPort"/> as a gateway's <c>Platform:SiloEndpoints</c> entry.</summary>
    public string ClusterGatewayEndpoint => $"127.0.0.1:{ClusterGatewayPort}";

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
            services.AddSingleton<IStartupFilter>(new ApiRecorder(_exchanges));
            _services?.Invoke(services);
        });
    }

    /// <summary>The silo's clock: real by default; pass a <see cref="ManualTimeProvider"/> to drive it.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Every request to the public API so far, with its answer, in the order the answers completed.</summary>
    public IReadOnlyCollection<ApiExchange> Exchanges => _exchanges;

    /// <summary>What is wrong with the answers recorded so far, held to the silo's own OpenAPI document.</summary>
    public async Task<IReadOnlyList<string>> CheckExchangesAsync()
    {
        if (_exchanges.IsEmpty)
        {
            return [];
        }

        var conformance = await ConformanceAsync();
        return [.. _exchanges.SelectMany(conformance.Check)];
    }

    /// <summary>The silo's OpenAPI document, read once per test process (it does not depend on a silo's settings).</summary>
    public async Task<ApiConformance> ConformanceAsync()
    {
        await DocumentLock.WaitAsync();
        try
        {
            if (_document is null)
            {
                using var client = AnonymousClient();
                _document = new ApiConformance(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
            }

            return _document;
        }
        finally
        {
            DocumentLock.Release();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        var problems = await CheckExchangesAsync();
        await base.DisposeAsync();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(
                $"The silo gave {problems.Count} answers its OpenAPI document does not declare:\n{string.Join("\n", problems)}");
        }
    }

    private static readonly SemaphoreSlim DocumentLock = new(1, 1);
    private static ApiConformance? _document;
}
