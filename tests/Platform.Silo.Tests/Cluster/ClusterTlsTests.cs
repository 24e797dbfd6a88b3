using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;
using Orleans.Runtime;
using Platform.Cluster.Tls;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// The Orleans transport of a real silo (its own silo and gateway ports on loopback) against real Orleans clients and
/// silos: only a certificate of the cluster CA, with the key usage of its side, gets a connection.
/// </summary>
public sealed class ClusterTlsTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Client_CertificateFromClusterCa_CallsGrain()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var gateway = ClusterCertificates.Cluster.Issue("gateway-test", serverAuth: false, clientAuth: true);

        using var client = await StartClientAsync(GatewayPort(silo), c => c.UsePlatformTls(gateway.Load(ClusterTlsRole.Client)));
        var hosts = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);

        Assert.Single(hosts);
    }

    [Fact]
    public async Task Client_CertificateFromAnotherCa_Refused()
    {
        await using var database = await TestDatabase.CreateAsync();
        var logs = new RefusalLog();
        await using var silo = new SiloApp(database, services: logs.Register);
        var rogue = ClusterCertificates.CreateAuthority("rogue");
        // The client trusts the real cluster CA too, so only the silo's check can stop it.
        var files = rogue.Issue("rogue-gateway", serverAuth: false, clientAuth: true).Trusting(ClusterCertificates.Bundle(ClusterCertificates.Cluster, rogue));

        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(GatewayPort(silo), c => c.UsePlatformTls(files.Load(ClusterTlsRole.Client))));

        Assert.IsNotType<TimeoutException>(error);
        await logs.WaitForAsync("client gateway port", "not issued by a CA of the bundle");
    }

    [Fact]
    public async Task Client_WithoutCertificate_Refused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(GatewayPort(silo), c => c.UseTls(o =>
        {
            o.ClientCertificateMode = RemoteCertificateMode.NoCertificate;
            o.AllowAnyRemoteCertificate();
        })));

        Assert.IsNotType<TimeoutException>(error);
    }

    [Fact]
    public async Task Client_WithoutTls_Refused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(GatewayPort(silo), static _ => { }));

        Assert.IsNotType<TimeoutException>(error);
    }

    [Fact]
    public async Task Client_ExpiredCertificateFromClusterCa_Refused()
    {
        await using var database = await TestDatabase.CreateAsync();
        var logs = new RefusalLog();
        await using var silo = new SiloApp(database, services: logs.Register);
        var now = DateTimeOffset.UtcNow;
        var expired = ClusterCertificates.Cluster.Issue("expired-gateway", serverAuth: false, clientAuth: true, now.AddDays(-30), now.AddMinutes(-5));
        // Presented as a client that does not check its own certificate would: the platform's loader refuses to load it.
        using var certificate = X509Certificate2.CreateFromPemFile(expired.CertificatePath, expired.KeyPath);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync(GatewayPort(silo), c => c.UseTls(certificate, o => o.AllowAnyRemoteCertificate())));

        Assert.IsNotType<TimeoutException>(error);
        await logs.WaitForAsync("client gateway port", "expired on");
    }

    [Fact]
    public async Task Client_CertificateOfSecondCaInBundle_CallsGrain()
    {
        // The middle of a CA rotation: the silo trusts the old and the new CA, a client already has a certificate of the new one.
        await using var database = await TestDatabase.CreateAsync();
        var next = ClusterCertificates.CreateAuthority("next");
        var bundle = ClusterCertificates.Bundle(ClusterCertificates.Cluster, next);
        await using var silo = new SiloApp(database, ClusterCertificates.Cluster.Silo.Trusting(bundle).Settings());
        var gateway = next.Issue("gateway-next", serverAuth: false, clientAuth: true).Trusting(bundle);

        using var client = await StartClientAsync(GatewayPort(silo), c => c.UsePlatformTls(gateway.Load(ClusterTlsRole.Client)));
        var hosts = await client.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);

        Assert.Single(hosts);
    }

    [Fact]
    public async Task SiloPort_GatewayCertificate_RefusedWhileSiloCertificateAccepted()
    {
        await using var database = await TestDatabase.CreateAsync();
        var logs = new RefusalLog();
        await using var silo = new SiloApp(database, services: logs.Register);
        var endpoints = silo.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
        var gateway = ClusterCertificates.Cluster.Issue("gateway-on-silo-port", serverAuth: false, clientAuth: true);
        var serverOnly = ClusterCertificates.Cluster.Issue("server-only", serverAuth: true, clientAuth: false);

        // A silo's certificate is answered on the silo port (the silo sends its preamble): what refuses the others is their key usage.
        Assert.True(await FirstReadAsync(endpoints.SiloPort, ClusterCertificates.Cluster.Silo) > 0);

        // A gateway's certificate (client authentication only) does not open the silo-to-silo port,
        Assert.Equal(0, await FirstReadAsync(endpoints.SiloPort, gateway));
        await logs.WaitForAsync("silo port", "lacks server authentication");
        // and a certificate without client authentication opens neither.
        Assert.Equal(0, await FirstReadAsync(endpoints.GatewayPort, serverOnly));
        await logs.WaitForAsync("client gateway port", "lacks client authentication");
        Assert.Equal(0, await FirstReadAsync(endpoints.SiloPort, serverOnly));
    }

    [Fact]
    public async Task Silo_CertificateFromAnotherCa_CannotJoin()
    {
        await using var database = await TestDatabase.CreateAsync();
        var logs = new RefusalLog();
        await using var member = new SiloApp(database, services: logs.Register);
        _ = member.Server;
        var rogue = ClusterCertificates.CreateAuthority("rogue-silo");
        // The intruder has the database and trusts the cluster's CA; its own certificate is of another CA.
        var files = rogue.Issue("rogue-silo", serverAuth: true, clientAuth: true).Trusting(ClusterCertificates.Bundle(ClusterCertificates.Cluster, rogue));
        var settings = files.Settings();
        settings["Platform:OperatorKey"] = member.OperatorKey;
        var intruder = new SiloApp(database, settings, services: static s =>
            s.Configure<ClusterMembershipOptions>(o => o.MaxJoinAttemptTime = TimeSpan.FromSeconds(10)));
        try
        {
            var started = Task.Run(() => intruder.Server);
            var finished = await Task.WhenAny(started, Task.Delay(TimeSpan.FromSeconds(90)));
            Assert.Same(started, finished);
            await Assert.ThrowsAnyAsync<Exception>(() => started);
        }
        finally
        {
            await DisposeQuietlyAsync(intruder);
        }

        await logs.WaitForAsync("silo port", "not issued by a CA of the bundle");
        using var operatorClient = member.OperatorClient();
        var silos = await operatorClient.GetFromJsonAsync<Page<SiloResponse>>(new Uri("/v1/silos", UriKind.Relative), PlatformJson.Options);
        var active = Assert.Single(silos!.Items, s => s.Status == SiloStatuses.Active);
        Assert.Equal(member.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.SiloPort, active.SiloPort);
    }

    private static int GatewayPort(SiloApp silo) => silo.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.GatewayPort;

    /// <summary>
    /// Starts an Orleans client against one silo that gives up at the first failed connection, so a refusal surfaces as
    /// an exception instead of minutes of retries. A <see cref="TimeoutException"/> means no answer at all.
    /// </summary>
    private static async Task<IHost> StartClientAsync(int gatewayPort, Action<IClientBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = "platform";
                o.ServiceId = "platform";
            });
            client.UseConnectionRetryFilter(static (_, _) => Task.FromResult(false));
            configure(client);
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(Limit);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens TLS to a silo port with a certificate and reads what comes first: the number of bytes, or 0 when the silo
    /// closed the connection (it checks the client's certificate after the handshake completed on the client's side).
    /// </summary>
    private static async Task<int> FirstReadAsync(int port, ClusterCertificateFiles files)
    {
        using var certificate = X509Certificate2.CreateFromPemFile(files.CertificatePath, files.KeyPath);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Limit);
        await using var tls = new SslStream(tcp.GetStream());
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "silo",
                ClientCertificateContext = SslStreamCertificateContext.Create(certificate, null, offline: true),
                ApplicationProtocols = [new SslApplicationProtocol("Orleans1")],
                CertificateChainPolicy = ClusterTrust(),
                // Silos are addressed by IP and their certificates name no host: everything but the name must check out.
                RemoteCertificateValidationCallback = static (_, _, _, errors) => (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None,
            }).WaitAsync(Limit);
            return await tls.ReadAsync(new byte[64]).AsTask().WaitAsync(Limit);
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            return 0;
        }
    }

    private static X509ChainPolicy ClusterTrust()
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck, DisableCertificateDownloads = true };
        policy.CustomTrustStore.Add(ClusterCertificates.Cluster.Certificate);
        return policy;
    }

    private static async Task DisposeQuietlyAsync(SiloApp silo)
    {
        try
        {
            await silo.DisposeAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or AggregateException or OrleansException)
        {
            // The intruder never started; disposing what it left may fail the same way its start did.
        }
    }

    /// <summary>The silo's refusals of peer certificates (event 7710), with their side and reason.</summary>
    private sealed class RefusalLog : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _messages = new();

        public void Register(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

        public async Task WaitForAsync(string side, string reason)
        {
            using var limit = new CancellationTokenSource(Limit);
            while (!_messages.Any(m => m.Contains($"on the {side} side", StringComparison.Ordinal) && m.Contains(reason, StringComparison.Ordinal)))
            {
                await Task.Delay(100, limit.Token).ConfigureAwait(false);
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(_messages);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Id == 7710)
                {
                    sink.Enqueue(formatter(state, exception));
                }
            }
        }
    }
}
