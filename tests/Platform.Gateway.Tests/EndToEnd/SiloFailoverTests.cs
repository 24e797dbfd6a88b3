using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Cluster.Tls;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using Xunit.Abstractions;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// Two real silo processes of one cluster, real gateways and real WebSocket clients: the silo that holds a tenant's
/// quota grain is killed with SIGKILL while the gateways serve. Connections stay up, slots already leased keep being
/// used, the survivor takes the grain over after Orleans' failure detection, and the tenant's MaxConnections holds
/// throughout: the leases stored in PostgreSQL, sampled all along, never add up to more.
/// </summary>
public sealed class SiloFailoverTests(ITestOutputHelper output)
{
    private const string Slug = "acme";
    private const int Max = 6;

    /// <summary>How long anything that waits for the cluster may take: failure detection plus a loaded machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly Dictionary<string, string?> SiloSettings = new()
    {
        ["Platform:HeartbeatIntervalSeconds"] = "1",
        // Longer than the failover, so a gateway that heartbeats to the survivor is never reaped meanwhile.
        ["Platform:HeartbeatTimeoutSeconds"] = "10",
    };

    private static readonly Dictionary<string, string?> GatewaySettings = new()
    {
        // Small batches keep every gateway's free slots at one to three: a kill always finds some, and never all, leased.
        ["Platform:LeaseBatch"] = "2",
        // A connection waiting for slots reclaimed from the other gateway may wait this long on a busy machine.
        ["Platform:LeaseWaitMilliseconds"] = "5000",
    };

    private readonly List<SiloProcess> _silos = [];

    [Fact]
    public async Task SiloProcess_SecondSiloJoins_EachListsBothActiveAndAStoppedOneDead()
    {
        await ShowingSiloOutputAsync(async () =>
        {
            await using var database = await TestDatabase.CreateAsync();
            await using var a = Track(await SiloProcess.StartAsync(database, SiloSettings));
            await using var b = Track(await SiloProcess.StartAsync(a));
            using var operatorA = a.OperatorClient();
            using var operatorB = b.OperatorClient();

            await WaitUntilAsync(() => ListsActiveAsync(operatorA, a, b), "silo-1 to list both silos as active");
            await WaitUntilAsync(() => ListsActiveAsync(operatorB, a, b), "silo-2 to list both silos as active");
            // Both serve the same cluster secret and operator key, over the same database.
            await CreateTenantAsync(operatorA, Slug);
            using (var read = await operatorB.GetAsync(new Uri($"/v1/tenants/{Slug}", UriKind.Relative)))
            {
                Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            }

            await b.StopAsync(TimeSpan.FromSeconds(30));
            await WaitUntilAsync(() => ListsDeadAsync(operatorA, b), "silo-1 to list the stopped silo-2 as dead");
        });
    }

    [Fact]
    public async Task KillSilo_HoldingTheQuotaGrain_GatewaysOnTheSurvivorServeAndMaxConnectionsHolds()
    {
        await ShowingSiloOutputAsync(async () =>
        {
            await using var database = await TestDatabase.CreateAsync();
            await using var a = Track(await SiloProcess.StartAsync(database, SiloSettings));
            await using var b = Track(await SiloProcess.StartAsync(a));
            using var operatorA = a.OperatorClient();
            using var operatorB = b.OperatorClient();
            await WaitUntilAsync(() => ListsActiveAsync(operatorA, a, b), "silo-1 to list both silos as active");
            await WaitUntilAsync(() => ListsActiveAsync(operatorB, a, b), "silo-2 to list both silos as active");
            var tenant = await CreateTenantAsync(operatorA, Slug);
            await using var leases = LeaseSampler.Start(database, tenant.Id);

            // The quota grain is placed on the silo that first receives a call for the tenant (PreferLocalPlacement):
            // a gateway whose first lease round goes to silo-1 activates it there. It leaves (and frees its slots)
            // before the gateways under test start; they reach the grain on silo-1 through silo-2.
            await using (var first = await TestGateway.StartAsync(ClusterEndpoint(a), settings: GatewaySettings))
            {
                await first.WaitForTenantAsync(Slug);
            }

            await using var g1 = await TestGateway.StartAsync(ClusterEndpoint(b), settings: GatewaySettings);
            await using var g2 = await TestGateway.StartAsync(ClusterEndpoint(b), settings: GatewaySettings);
            await g1.WaitForTenantAsync(Slug);
            await g2.WaitForTenantAsync(Slug);
            Assert.Equal([a.SiloPort], await QuotaGrainSilosAsync(b, tenant.Id));

            // A write acknowledged by silo-1 before it dies.
            var etag = await ReplaceDtlsIdleTimeoutAsync(operatorA, 301);

            var open = new List<ClientWebSocket>();
            try
            {
                open.Add(await AdmitAsync(g1, "first connection on gateway 1"));
                open.Add(await AdmitAsync(g1, "second connection on gateway 1"));
                open.Add(await AdmitAsync(g2, "first connection on gateway 2"));
                await EchoAllAsync(open, "before the kill");

                var sinceKill = Stopwatch.StartNew();
                await a.KillAsync();

                // Nothing is granted while the grain's silo is dead: what each gateway holds now is what it has.
                var (roomy, tight) = ByFreeSlots(g1, g2, tenant.Id);
                Assert.True(Free(roomy, tenant.Id) >= 1, $"no gateway had a free slot at the kill: {Describe(g1, g2, tenant.Id)}");
                open.Add(await AdmitAsync(roomy, "a connection within the leases while silo-1 is dead"));
                // The other gateway's free slots are taken now, while nothing can be granted: taken after the death is
                // declared, they could include the first new grant, and the tenant could then be full.
                while (Free(tight, tenant.Id) > 0)
                {
                    open.Add(await AdmitAsync(tight, "a connection within the leases of the other gateway"));
                }

                await EchoAllAsync(open, "while silo-1 is dead");

                var restAfter = await WaitUntilAsync(() => AnswersAsync(operatorB, $"/v1/tenants/{Slug}"), "silo-2 to answer REST after the kill", sinceKill);
                var deadAfter = await WaitUntilAsync(() => ListsDeadAsync(operatorB, a), "silo-2 to declare silo-1 dead", sinceKill);

                // Beyond what the gateways held at the kill: only a grant from the grain, now on silo-2, admits it.
                var (beyond, grantedAfter) = await AdmitEventuallyAsync(tight, sinceKill, "a connection beyond the leases held at the kill");
                open.Add(beyond);
                output.WriteLine(
                    $"after kill -9 of the silo holding the quota grain: REST on the survivor answered after {restAfter.TotalSeconds:F1} s, " +
                    $"the survivor declared it dead after {deadAfter.TotalSeconds:F1} s, the first new grant came after {grantedAfter.TotalSeconds:F1} s");
                Assert.True(grantedAfter < TimeSpan.FromSeconds(30), $"the first grant after the kill took {grantedAfter.TotalSeconds:F1} s");

                Assert.Equal([b.SiloPort], await QuotaGrainSilosAsync(b, tenant.Id));
                await FillAndRefuseAsync(open, g1, g2, database, tenant.Id);
                await EchoAllAsync(open, "after the failover");
                await WaitUntilAsync(() => DirectoryListsAsync(operatorB, g1, g2), "the connection directory to list exactly the open connections");
                await CloseAllAsync(open);
            }
            finally
            {
                AbortAll(open);
            }

            Assert.True(leases.Maximum <= Max, $"the stored leases added up to {leases.Maximum} of {Max} ({leases.AtMaximum})");
            Assert.True(leases.Samples > 10, $"only {leases.Samples} samples of the leases were taken");

            using var config = await operatorB.GetAsync(new Uri($"/v1/tenants/{Slug}/config", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, config.StatusCode);
            Assert.Equal(etag, config.Headers.ETag);
            var body = await config.Content.ReadFromJsonAsync<ConfigResponse>(PlatformJson.Options);
            Assert.Equal(301, body!.Config.Timeouts.DtlsIdleTimeoutSeconds);
        });
    }

    [Fact]
    public async Task KillSilo_TheGatewaysOnlySilo_GatewaysServeFailStaticAndResyncWithoutOvershootWhenItIsBack()
    {
        await ShowingSiloOutputAsync(async () =>
        {
            await using var database = await TestDatabase.CreateAsync();
            // The gateways stay registered through the outage: a gateway the reaper declares dead meanwhile loses its
            // stored leases while it keeps its connections, and the first gateway to resync may then be granted slots
            // the other one's connections still use (see docs/architecture.md, "What a silo failure looks like").
            var settings = new Dictionary<string, string?>(SiloSettings) { ["Platform:HeartbeatTimeoutSeconds"] = "120" };
            await using var a = Track(await SiloProcess.StartAsync(database, settings));
            await using var b = Track(await SiloProcess.StartAsync(a));
            using var operatorA = a.OperatorClient();
            using var operatorB = b.OperatorClient();
            await WaitUntilAsync(() => ListsActiveAsync(operatorA, a, b), "silo-1 to list both silos as active");
            await WaitUntilAsync(() => ListsActiveAsync(operatorB, a, b), "silo-2 to list both silos as active");
            var tenant = await CreateTenantAsync(operatorA, Slug);
            await using var leases = LeaseSampler.Start(database, tenant.Id);

            // Both gateways know only silo-1's Orleans gateway, so every lease round (and the quota grain) is on silo-1.
            await using var g1 = await TestGateway.StartAsync(ClusterEndpoint(a), settings: GatewaySettings);
            await using var g2 = await TestGateway.StartAsync(ClusterEndpoint(a), settings: GatewaySettings);
            await g1.WaitForTenantAsync(Slug);
            await g2.WaitForTenantAsync(Slug);

            var open = new List<ClientWebSocket>();
            try
            {
                open.Add(await AdmitAsync(g1, "first connection on gateway 1"));
                open.Add(await AdmitAsync(g1, "second connection on gateway 1"));
                open.Add(await AdmitAsync(g2, "first connection on gateway 2"));
                await EchoAllAsync(open, "before the kill");

                var sinceKill = Stopwatch.StartNew();
                await a.KillAsync();

                var (roomy, tight) = ByFreeSlots(g1, g2, tenant.Id);
                Assert.True(Free(roomy, tenant.Id) >= 1, $"no gateway had a free slot at the kill: {Describe(g1, g2, tenant.Id)}");
                open.Add(await AdmitAsync(roomy, "a connection within the leases while the gateways' silo is dead"));
                while (Free(tight, tenant.Id) > 0)
                {
                    open.Add(await AdmitAsync(tight, "a connection within the leases of the other gateway"));
                }

                // Fail-static keeps what was granted and takes no more: a gateway that had its answers from the silo
                // does not fall back to local slots, so two gateways cannot each admit the whole tenant.
                await AssertMaxConnectionsRefusalAsync(tight);
                await EchoAllAsync(open, "while the gateways' silo is dead");
                var deadAfter = await WaitUntilAsync(() => ListsDeadAsync(operatorB, a), "silo-2 to declare silo-1 dead", sinceKill);
                await EchoAllAsync(open, "after silo-1 was declared dead");

                await a.StartAgainAsync();
                var backAfter = sinceKill.Elapsed;
                await WaitUntilAsync(() => ListsActiveAsync(operatorB, a, b), "silo-2 to list the restarted silo-1 as active");
                var inUse = new Dictionary<string, int>
                {
                    [g1.NodeId] = InUse(g1, tenant.Id),
                    [g2.NodeId] = InUse(g2, tenant.Id),
                };
                var resyncedAfter = await WaitUntilAsync(
                    async () => (await StoredLeasesAsync(database, tenant.Id)) is var stored
                        && inUse.All(g => stored.TryGetValue(g.Key, out var slots) && slots >= g.Value),
                    "both gateways' leases stored again for their open connections", sinceKill);
                var (beyond, grantedAfter) = await AdmitEventuallyAsync(tight, sinceKill, "a connection beyond the leases held at the kill");
                open.Add(beyond);
                output.WriteLine(
                    $"gateways on the killed silo: it was declared dead after {deadAfter.TotalSeconds:F1} s, restarted and serving after " +
                    $"{backAfter.TotalSeconds:F1} s, leases resynced after {resyncedAfter.TotalSeconds:F1} s, the first new grant after {grantedAfter.TotalSeconds:F1} s");

                await FillAndRefuseAsync(open, g1, g2, database, tenant.Id);
                await EchoAllAsync(open, "after silo-1 is back");
                // The events the gateways queued while their silo was away reach the directory once it is back.
                await WaitUntilAsync(() => DirectoryListsAsync(operatorA, g1, g2), "the connection directory to list exactly the open connections");
                await CloseAllAsync(open);
            }
            finally
            {
                AbortAll(open);
            }

            Assert.True(leases.Maximum <= Max, $"the stored leases added up to {leases.Maximum} of {Max} ({leases.AtMaximum})");
            Assert.True(leases.Samples > 10, $"only {leases.Samples} samples of the leases were taken");
        });
    }

    /// <summary>Opens connections on both gateways, in turn, up to exactly MaxConnections; one more is refused on either.</summary>
    private static async Task FillAndRefuseAsync(List<ClientWebSocket> open, TestGateway g1, TestGateway g2, TestDatabase database, Guid tenantId)
    {
        var turn = 0;
        while (g1.Registry.Count + g2.Registry.Count < Max)
        {
            var gateway = turn++ % 2 == 0 ? g2 : g1;
            open.Add(await AdmitAsync(gateway, $"connection {g1.Registry.Count + g2.Registry.Count + 1} of {Max}"));
        }

        Assert.Equal(Max, InUse(g1, tenantId) + InUse(g2, tenantId));
        // What each gateway held and what was stored when a refusal was expected, should one not come.
        async Task<string> StateAsync() =>
            $"{Describe(g1, g2, tenantId)}; stored leases: {string.Join(", ", (await StoredLeasesAsync(database, tenantId)).Select(l => $"{(l.Key == g1.NodeId ? "gateway 1" : l.Key == g2.NodeId ? "gateway 2" : l.Key)} {l.Value}"))}";
        await AssertMaxConnectionsRefusalAsync(g1, StateAsync);
        await AssertMaxConnectionsRefusalAsync(g2, StateAsync);
        Assert.Equal(Max, g1.Registry.Count + g2.Registry.Count);
    }

    private static async Task AssertMaxConnectionsRefusalAsync(TestGateway gateway, Func<Task<string>>? state = null)
    {
        var (status, _, body) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, $"{Slug}.platform.test", "/");
        Assert.True(status == 503, $"expected the MaxConnections refusal (503), got {status} {body}{(status == 503 || state is null ? "" : $" ({await state()})")}");
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("max_connections", problem.RootElement.GetProperty("code").GetString());
    }

    private static async Task<ClientWebSocket> AdmitAsync(TestGateway gateway, string what)
    {
        var (socket, status) = await TryConnectAsync(gateway);
        Assert.True(socket is not null, $"{what} was refused ({(int)status})");
        return socket;
    }

    /// <summary>Connects until admitted; each refused attempt has waited in the gateway for a grant first.</summary>
    private static async Task<(ClientWebSocket Socket, TimeSpan After)> AdmitEventuallyAsync(TestGateway gateway, Stopwatch since, string what)
    {
        var statuses = new List<int>();
        while (since.Elapsed < Bound)
        {
            var (socket, status) = await TryConnectAsync(gateway);
            if (socket is not null)
            {
                return (socket, since.Elapsed);
            }

            statuses.Add((int)status);
        }

        Assert.Fail($"{what} was not admitted within {Bound.TotalSeconds} s (answers: {string.Join(", ", statuses)})");
        throw new UnreachableException();
    }

    private static async Task<(ClientWebSocket? Socket, HttpStatusCode Status)> TryConnectAsync(TestGateway gateway)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await socket.ConnectAsync(gateway.WsUri(Slug), timeout.Token);
            return (socket, socket.HttpStatusCode);
        }
        catch (WebSocketException)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            return (null, status);
        }
    }

    private static async Task EchoAllAsync(List<ClientWebSocket> open, string when)
    {
        for (var i = 0; i < open.Count; i++)
        {
            var text = $"connection {i} {when}";
            await WsClient.SendTextAsync(open[i], text);
            Assert.Equal(text, await WsClient.ReceiveTextAsync(open[i]));
        }
    }

    /// <summary>Closes every connection with the close handshake: each must still be open, and its gateway answer.</summary>
    private static async Task CloseAllAsync(List<ClientWebSocket> open)
    {
        foreach (var socket in open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
        }
    }

    /// <summary>Ends whatever is left without a handshake, so a failure above is reported as it happened.</summary>
    private static void AbortAll(List<ClientWebSocket> open)
    {
        foreach (var socket in open)
        {
            socket.Abort();
            socket.Dispose();
        }
    }

    private static int Free(TestGateway gateway, Guid tenantId)
    {
        var (held, inUse) = gateway.Services.GetRequiredService<LeaseManager>().Get(tenantId);
        return held - inUse;
    }

    private static int InUse(TestGateway gateway, Guid tenantId) => gateway.Services.GetRequiredService<LeaseManager>().Get(tenantId).InUse;

    private static (TestGateway Roomy, TestGateway Tight) ByFreeSlots(TestGateway g1, TestGateway g2, Guid tenantId) =>
        Free(g1, tenantId) >= Free(g2, tenantId) ? (g1, g2) : (g2, g1);

    private static string Describe(TestGateway g1, TestGateway g2, Guid tenantId)
    {
        var leases1 = g1.Services.GetRequiredService<LeaseManager>().Get(tenantId);
        var leases2 = g2.Services.GetRequiredService<LeaseManager>().Get(tenantId);
        return $"gateway 1 holds {leases1.Held} with {leases1.InUse} in use, gateway 2 holds {leases2.Held} with {leases2.InUse} in use";
    }

    private static async Task<TenantResponse> CreateTenantAsync(HttpClient client, string slug)
    {
        var config = new TenantConfig { Limits = new LimitsConfig { MaxConnections = Max } };
        var body = JsonSerializer.Serialize(new CreateTenantRequest(slug, $"Tenant {slug}", config), PlatformJson.Options);
        using var response = await client.PostAsync(new Uri("/v1/tenants", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<TenantResponse>(PlatformJson.Options))!;
    }

    /// <summary>Replaces the tenant's configuration with one whose DTLS idle timeout differs; returns the new ETag.</summary>
    private static async Task<EntityTagHeaderValue> ReplaceDtlsIdleTimeoutAsync(HttpClient client, int seconds)
    {
        var uri = new Uri($"/v1/tenants/{Slug}/config", UriKind.Relative);
        using var current = await client.GetAsync(uri);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        var config = (await current.Content.ReadFromJsonAsync<ConfigResponse>(PlatformJson.Options))!.Config;
        using var request = new HttpRequestMessage(HttpMethod.Put, uri)
        {
            Content = new StringContent(
                JsonSerializer.Serialize(config with { Timeouts = config.Timeouts with { DtlsIdleTimeoutSeconds = seconds } }, PlatformJson.Options),
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.IfMatch.Add(current.Headers.ETag!);
        using var replaced = await client.SendAsync(request);
        Assert.True(replaced.StatusCode == HttpStatusCode.OK, $"{replaced.StatusCode}: {await replaced.Content.ReadAsStringAsync()}");
        return replaced.Headers.ETag!;
    }

    private static async Task<bool> AnswersAsync(HttpClient client, string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative), timeout.Token);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<IReadOnlyList<SiloResponse>?> SilosAsync(HttpClient client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return (await client.GetFromJsonAsync<Page<SiloResponse>>(new Uri("/v1/silos?limit=100", UriKind.Relative), PlatformJson.Options, timeout.Token))!.Items;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task<bool> ListsActiveAsync(HttpClient client, params SiloProcess[] silos) =>
        await SilosAsync(client) is { } listed
        && silos.All(s => listed.Any(l => l.SiloPort == s.SiloPort && l.Status == SiloStatuses.Active));

    private static async Task<bool> ListsDeadAsync(HttpClient client, SiloProcess silo) =>
        await SilosAsync(client) is { } listed
        && listed.Any(l => l.SiloPort == silo.SiloPort)
        && listed.Where(l => l.SiloPort == silo.SiloPort).All(l => l.Status == SiloStatuses.Dead);

    /// <summary>
    /// The silo ports of the silos that hold an activation of the tenant's quota grain, as Orleans' management grain
    /// reports them to a cluster client connected through <paramref name="via"/>.
    /// </summary>
    private static async Task<int[]> QuotaGrainSilosAsync(SiloProcess via, Guid tenantId)
    {
        using var host = new HostBuilder()
            .UseOrleansClient(client => client
                .UseStaticClustering(new IPEndPoint(IPAddress.Loopback, via.GatewayPort))
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("platform", "platform"))
                // The silos' Orleans ports accept only TLS with a certificate of the cluster CA.
                .UsePlatformTls(ClusterCertificates.Cluster.Issue("failover-test-client", serverAuth: false, clientAuth: true).Load(ClusterTlsRole.Client))
                .Services.AddSerializer(static s => s.AddPlatformContracts()))
            .Build();
        await host.StartAsync();
        try
        {
            var management = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
            var activations = await management.GetDetailedGrainStatistics();
            return [.. activations
                .Where(g => g.GrainType.Contains("TenantQuotaGrain", StringComparison.Ordinal) && g.GrainId.GetGuidKey() == tenantId)
                .Select(g => g.SiloAddress.Endpoint.Port)
                .Order()];
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>Whether the tenant's open connections in the directory are exactly those the gateways have open.</summary>
    private static async Task<bool> DirectoryListsAsync(HttpClient client, TestGateway g1, TestGateway g2)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var page = await client.GetFromJsonAsync<Page<ConnectionResponse>>(
                new Uri($"/v1/tenants/{Slug}/connections?state=open&limit=100", UriKind.Relative), PlatformJson.Options, timeout.Token);
            var listed = page!.Items.Select(c => c.Id).Order(StringComparer.Ordinal);
            var live = g1.Registry.All.Concat(g2.Registry.All).Select(c => c.Id).Order(StringComparer.Ordinal);
            return listed.SequenceEqual(live);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<Dictionary<string, int>> StoredLeasesAsync(TestDatabase database, Guid tenantId)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT gateway_id, slots FROM quota_leases WHERE tenant_id = @tenantId", connection);
        command.Parameters.AddWithValue("tenantId", tenantId);
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new Dictionary<string, int>();
        while (await reader.ReadAsync())
        {
            stored[reader.GetString(0)] = reader.GetInt32(1);
        }

        return stored;
    }

    private static Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, string what) => WaitUntilAsync(condition, what, Stopwatch.StartNew());

    /// <summary>Polls until <paramref name="condition"/> holds, at most <see cref="Bound"/>; answers the time since <paramref name="since"/> started.</summary>
    private static async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, string what, Stopwatch since)
    {
        var limit = Stopwatch.StartNew();
        while (!await condition())
        {
            if (limit.Elapsed > Bound)
            {
                Assert.Fail($"Timed out after {Bound.TotalSeconds} s waiting for {what}.");
            }

            await Task.Delay(100);
        }

        return since.Elapsed;
    }

    /// <summary>A silo process's Orleans gateway, where a gateway's cluster client connects.</summary>
    private static string ClusterEndpoint(SiloProcess silo) => $"127.0.0.1:{silo.GatewayPort}";

    private SiloProcess Track(SiloProcess silo)
    {
        _silos.Add(silo);
        return silo;
    }

    /// <summary>Runs the test; when it fails, the silos' output goes to the test's output before the failure is reported.</summary>
    private async Task ShowingSiloOutputAsync(Func<Task> test)
    {
        try
        {
            await test();
        }
        catch
        {
            foreach (var silo in _silos)
            {
                output.WriteLine(silo.Output);
            }

            throw;
        }
    }

    /// <summary>Samples the sum of a tenant's stored leases until disposed, keeping the largest sum seen.</summary>
    private sealed class LeaseSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly TestDatabase _database;
        private readonly Guid _tenantId;

        private LeaseSampler(TestDatabase database, Guid tenantId)
        {
            _database = database;
            _tenantId = tenantId;
            _loop = Task.Run(RunAsync);
        }

        public int Maximum { get; private set; }

        public string AtMaximum { get; private set; } = "no lease";

        public int Samples { get; private set; }

        public static LeaseSampler Start(TestDatabase database, Guid tenantId) => new(database, tenantId);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }

        private async Task RunAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                // One statement, so the rows summed are one snapshot of the table.
                var stored = await StoredLeasesAsync(_database, _tenantId);
                var sum = stored.Values.Sum();
                Samples++;
                if (sum > Maximum)
                {
                    Maximum = sum;
                    AtMaximum = string.Join(", ", stored.Select(s => $"{s.Key}: {s.Value}"));
                }

                await ((Task)Task.Delay(20, _stop.Token)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}
