using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Stats;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// Tenants that point their forward target at the platform's own services (PostgreSQL, the silo, the gateway itself)
/// against a real silo, real gateways and real sockets: nothing answers through the gateway, the client sees exactly
/// what a closed port gives, and the refusal is counted as <c>backend_forbidden</c>. The silo allows loopback so the
/// writes pass; the gateways decide.
/// </summary>
public sealed class EgressEndToEndTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    /// <summary>The gateway's own default: no operator ranges.</summary>
    private static readonly Dictionary<string, string?> DefaultPolicy = new() { ["Platform:Egress:AllowedRanges:0"] = "" };

    [Fact]
    public async Task Ws_ForwardToPlatformServicesUnderTheDefaultPolicy_SameAnswerAsAClosedPortAndCountedForbidden()
    {
        await using var silo = await SiloFixture.StartAsync();
        var postgresPort = new NpgsqlConnectionStringBuilder(silo.Database.ConnectionString).Port;
        await using var guarded = await silo.StartGatewayAsync(settings: DefaultPolicy);
        // A gateway that may reach loopback gives the reference answer: a tenant whose backend port is closed.
        await using var reference = await silo.StartGatewayAsync();
        var targets = new (string Slug, string Host, int Port)[]
        {
            ("postgres", "127.0.0.1", postgresPort),
            ("postgres-hex", "0x7f.1", postgresPort),
            ("postgres-decimal", "2130706433", postgresPort),
            ("postgres-localhost", "localhost", postgresPort),
            ("silo", "127.0.0.1", silo.Url.Port),
            ("self", "127.0.0.1", guarded.Listeners.WsPort),
            ("silo-cluster", "127.0.0.1", silo.Silo.ClusterGatewayPort),
            ("admin", "127.0.0.1", guarded.Listeners.AdminPort),
        };
        foreach (var (slug, host, port) in targets)
        {
            await silo.CreateTenantAsync(slug, ForwardTo(host, port));
        }

        await silo.CreateTenantAsync("closed", ForwardTo("127.0.0.1", FreePorts.Tcp()));
        foreach (var slug in targets.Select(t => t.Slug).Append("closed"))
        {
            await guarded.WaitForTenantAsync(slug);
        }

        await reference.WaitForTenantAsync("closed");
        using var refusals = new RefusalRecorder(guarded);

        var closed = await RawHttp.UpgradeAsync(reference.WsEndPoint, "closed.platform.test", "/");
        Assert.Equal(502, closed.Status);
        Assert.Contains("\"code\":\"backend_unreachable\"", closed.Body, StringComparison.Ordinal);
        foreach (var (slug, host, port) in targets)
        {
            var answer = await RawHttp.UpgradeAsync(guarded.WsEndPoint, $"{slug}.platform.test", "/");
            Assert.True((closed.Status, closed.Head, closed.Body) == (answer.Status, answer.Head, answer.Body),
                $"{slug} ({host}:{port}) answered {answer.Status}: {answer.Head} {answer.Body}");
            await refusals.WaitForAsync(slug, "backend_forbidden", 1);
            Assert.Equal(0, refusals.Count(slug, "backend_unreachable"));
        }

        Assert.Equal(0, guarded.Registry.Count);
        // Two gateways report, each with its own heartbeat: wait for both reports.
        var report = await WaitForReportAsync(silo, r => Count(r, "backend_forbidden") >= targets.Length && Count(r, "backend_unreachable") >= 1);
        Assert.Contains(report.Buckets.Items, b => b is { Tenant: "postgres", Protocol: "ws", Reason: "backend_forbidden" });
        Assert.Contains(report.Buckets.Items, b => b is { Tenant: "closed", Protocol: "ws", Reason: "backend_unreachable" });
    }

    [Fact]
    public async Task DedicatedTcp_ForwardToPostgres_ClosedExactlyLikeAClosedBackendPortAndCountedForbidden()
    {
        var (first, last) = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Platform:DedicatedPortFirst"] = first.ToString(CultureInfo.InvariantCulture),
            ["Platform:DedicatedPortLast"] = last.ToString(CultureInfo.InvariantCulture),
        });
        var postgresPort = new NpgsqlConnectionStringBuilder(silo.Database.ConnectionString).Port;
        // Only 127.0.0.2 is opened, so that a closed port there is a real unreachable backend; 127.0.0.1 keeps the default.
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?>
        {
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.2/32",
            ["Platform:DedicatedPortMin"] = first.ToString(CultureInfo.InvariantCulture),
            ["Platform:DedicatedPortMax"] = last.ToString(CultureInfo.InvariantCulture),
        });
        await silo.CreateTenantAsync("postgres", ForwardTo("127.0.0.1", postgresPort));
        await silo.CreateTenantAsync("closed", ForwardTo("127.0.0.2", FreePorts.Tcp()));
        var pgPort = (await AllocatePortAsync(silo, "postgres", DedicatedPortProtocols.Tcp)).Port;
        var closedPort = (await AllocatePortAsync(silo, "closed", DedicatedPortProtocols.Tcp)).Port;
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await gateway.WaitForTenantAsync("postgres");
        await gateway.WaitForTenantAsync("closed");
        await Wait.UntilAsync(() => listeners.OpenPorts.Contains(pgPort) && listeners.OpenPorts.Contains(closedPort), "both dedicated listeners");
        using var refusals = new RefusalRecorder(gateway);

        var closedEnd = await ConnectAndReadToEndAsync(closedPort);
        var pgEnd = await ConnectAndReadToEndAsync(pgPort);

        Assert.Equal((0, "end of stream"), closedEnd);
        Assert.Equal(closedEnd, pgEnd);
        await refusals.WaitForAsync("closed", "backend_unreachable", 1);
        await refusals.WaitForAsync("postgres", "backend_forbidden", 1);
        Assert.Equal(0, refusals.Count("postgres", "backend_unreachable"));
        var report = await WaitForReportAsync(silo, r => Count(r, "backend_forbidden") >= 1);
        Assert.Contains(report.Buckets.Items, b => b is { Tenant: "postgres", Protocol: "tcp", Reason: "backend_forbidden" });
    }

    [Fact]
    public async Task Ws_LoopbackAllowedByTheOperator_ReachesTheBackendButNeverTheGatewaysOwnPorts()
    {
        await using var silo = await SiloFixture.StartAsync();
        await using var backend = new TcpEchoBackend();
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?> { ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8" });
        await silo.CreateTenantAsync("echo", ForwardTo("127.0.0.1", backend.Port));
        var own = new (string Slug, int Port)[]
        {
            ("own-ws", gateway.Listeners.WsPort),
            ("own-wss", gateway.Listeners.WssPort),
            ("own-tls", gateway.Listeners.TlsPort),
            ("own-admin", gateway.Listeners.AdminPort),
        };
        foreach (var (slug, port) in own)
        {
            await silo.CreateTenantAsync(slug, ForwardTo("127.0.0.1", port));
        }

        foreach (var slug in own.Select(o => o.Slug).Append("echo"))
        {
            await gateway.WaitForTenantAsync(slug);
        }

        using var refusals = new RefusalRecorder(gateway);

        using (var client = await WsClient.ConnectAsync(gateway.WsUri("echo")))
        {
            await WsClient.SendTextAsync(client, "through the gateway");
            Assert.Equal("through the gateway", await WsClient.ReceiveTextAsync(client));
        }

        var accepted = backend.Accepted;
        foreach (var (slug, port) in own)
        {
            var answer = await RawHttp.UpgradeAsync(gateway.WsEndPoint, $"{slug}.platform.test", "/");
            Assert.True(answer.Status == 502, $"{slug} (own port {port}) answered {answer.Status}: {answer.Body}");
            await refusals.WaitForAsync(slug, "backend_forbidden", 1);
        }

        Assert.Equal(accepted, backend.Accepted);
        Assert.Equal(0, refusals.Count("echo", "backend_forbidden"));
    }

    [Fact]
    public async Task Gateway_BadEgressRange_RefusesToStartNamingTheEntry()
    {
        var state = Directory.CreateTempSubdirectory("gw-egress-");
        try
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => TestGateway.StartAsync(
                "127.0.0.1:9", state.FullName, settings: new Dictionary<string, string?> { ["Platform:Egress:DeniedRanges:0"] = "10.0.0.0/33" }));

            Assert.Contains("Platform:Egress:DeniedRanges: '10.0.0.0/33'", error.GetBaseException().Message, StringComparison.Ordinal);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    private static TenantConfig ForwardTo(string host, int port) => new()
    {
        Delivery = new DeliveryConfig { Mode = DeliveryModes.Forward, Forward = new ForwardConfig { Host = host, Port = port, ConnectTimeoutSeconds = 5 } },
    };

    /// <summary>Connects to a dedicated port, sends nothing, and reads until the gateway ends the connection.</summary>
    private static async Task<(int Bytes, string End)> ConnectAndReadToEndAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(WaitLimit);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), limit.Token);
        var buffer = new byte[1024];
        var total = 0;
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
                if (read == 0)
                {
                    return (total, "end of stream");
                }

                total += read;
            }
        }
        catch (SocketException ex)
        {
            return (total, ex.SocketErrorCode.ToString());
        }
    }

    private static long Count(RefusalReport report, string reason) => report.ByReason.Where(r => r.Reason == reason).Sum(r => r.Count);

    private static async Task<RefusalReport> WaitForReportAsync(SiloFixture silo, Func<RefusalReport, bool> condition)
    {
        RefusalReport? report = null;
        await Wait.UntilAsync(
            async () =>
            {
                report = await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/refusals", UriKind.Relative), PlatformJson.Options);
                return condition(report!);
            },
            "the refusals to reach the silo's report");
        return report!;
    }

}
