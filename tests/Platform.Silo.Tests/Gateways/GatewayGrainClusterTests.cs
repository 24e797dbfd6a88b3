using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.TestingHost;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Silo.Cluster;
using Platform.Silo.Gateways;
using Platform.Silo.Gateways.Nodes;
using Platform.Silo.Tests.Cluster;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Gateways;

/// <summary>
/// The gateway grain in a cluster of two silos on the platform's membership table and a real database: the node's state
/// survives the loss of the silo holding the activation, and an activation whose view is stale (the row changed behind
/// its back, or a second activation of the node in another cluster on the same database) never regresses the row and
/// never counts a refusal batch twice.
/// </summary>
public sealed class GatewayGrainClusterTests
{
    // Recent: the silo app's reaper prunes refusal counts past their retention.
    private static readonly DateTimeOffset Minute = new(DateTimeOffset.UtcNow.Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute, TimeSpan.Zero);

    [Fact]
    public async Task Heartbeat_SiloHoldingTheGrainKilled_StatusDrainAndRefusalSequenceComeBackIntact()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        _ = silo.Services; // applies the migrations
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[1]).GetGrain<IGatewayGrain>("gw-a");
        using var gateway = new FakeGateway(PlatformTestCluster.Grains(cluster.Silos[1]));
        var commands = gateway.Reference;
        await grain.RegisterAsync(new GatewayRegistration("1.0", ["ws:8080"], commands));
        Assert.Equal(GatewayStatuses.Up, (await grain.HeartbeatAsync(Heartbeat(commands, 1, 3)))!.Status);
        var drained = await grain.DrainAsync(new GatewayDrain(600, "operator:test"));
        Assert.Equal((GatewayStatuses.Draining, true), (drained.Status, drained.Drained));
        var before = await grain.HeartbeatAsync(Heartbeat(commands, 2, 4));
        Assert.Equal(GatewayStatuses.Draining, before!.Status);
        Assert.NotNull(before.DrainDeadline);
        var holder = await PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        var dying = cluster.Silos.Single(s => s.SiloAddress.Equals(holder));
        var survivor = cluster.Silos.Single(s => !s.SiloAddress.Equals(holder));

        await cluster.KillSiloAsync(dying);

        // The gateway re-sends batch 2, whose answer it never got: the new activation knows it was applied.
        var again = PlatformTestCluster.Grains(survivor).GetGrain<IGatewayGrain>("gw-a");
        var after = await PlatformTestCluster.UntilAnsweredAsync(() => again.HeartbeatAsync(Heartbeat(commands, 2, 4)));
        Assert.Equal(new GatewayHeartbeatAnswer(GatewayStatuses.Draining, before.DrainDeadline), after);
        Assert.Equal(7L, await ScalarAsync<long>(database, "SELECT COALESCE(sum(count), 0)::bigint FROM refusal_counts"));
        Assert.Equal(GatewayStatuses.Draining, (await again.HeartbeatAsync(Heartbeat(commands, 3, 5)))!.Status);
        Assert.Equal(12L, await ScalarAsync<long>(database, "SELECT COALESCE(sum(count), 0)::bigint FROM refusal_counts"));
        Assert.Equal(3L, await ScalarAsync<long>(database, "SELECT refusal_sequence FROM gateway_nodes WHERE id = 'gw-a'"));
        Assert.Equal(survivor.SiloAddress, await PlatformTestCluster.Grains(survivor).GetGrain<IManagementGrain>(0).GetActivationAddress(again));
    }

    [Fact]
    public async Task Heartbeat_RowChangedBehindTheGrainsBack_ReloadsAndNeverRegressesIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        _ = silo.Services;
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IGatewayGrain>("gw-a");
        using var gateway = new FakeGateway(PlatformTestCluster.Grains(cluster.Silos[0]));
        var commands = gateway.Reference;
        await grain.RegisterAsync(new GatewayRegistration("1.0", ["ws:8080"], commands));
        Assert.NotNull(await grain.HeartbeatAsync(Heartbeat(commands, 1, 3)));

        // Another writer (SQL standing for a second activation) drains the node and applies batch 2.
        await ExecuteAsync(database, """
            UPDATE gateway_nodes SET status = 'draining', drain_deadline = '2030-01-01T00:00:00Z', refusal_sequence = 2 WHERE id = 'gw-a';
            INSERT INTO refusal_counts (minute, tenant_id, protocol, reason, count) VALUES (@minute, NULL, 'ws', 'max_connections', 4)
                ON CONFLICT ON CONSTRAINT refusal_counts_key DO UPDATE SET count = refusal_counts.count + excluded.count;
            """, Minute);

        var answer = await grain.HeartbeatAsync(Heartbeat(commands, 2, 4));

        Assert.Equal(new GatewayHeartbeatAnswer(GatewayStatuses.Draining, new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero)), answer);
        Assert.Equal(7L, await ScalarAsync<long>(database, "SELECT COALESCE(sum(count), 0)::bigint FROM refusal_counts"));
        Assert.Equal(2L, await ScalarAsync<long>(database, "SELECT refusal_sequence FROM gateway_nodes WHERE id = 'gw-a'"));

        // Declared dead behind its back: the grain neither revives nor drains the node, and says so.
        await ExecuteAsync(database, "UPDATE gateway_nodes SET status = 'dead', dead_at = now() WHERE id = 'gw-a'");
        Assert.Null(await grain.HeartbeatAsync(Heartbeat(commands, 3, 5)));
        var drain = await grain.DrainAsync(new GatewayDrain(0, "operator:test"));
        Assert.Equal((GatewayStatuses.Dead, false), (drain.Status, drain.Drained));
        Assert.False(await grain.LeaveAsync());
        Assert.Equal(GatewayStatuses.Dead, await ScalarAsync<string>(database, "SELECT status FROM gateway_nodes WHERE id = 'gw-a'"));
        Assert.Equal(7L, await ScalarAsync<long>(database, "SELECT COALESCE(sum(count), 0)::bigint FROM refusal_counts"));
    }

    [Fact]
    public async Task Heartbeat_TwoActivationsOfOneNodeInTwoClusters_EachBatchCountsOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.RegisterGatewayAsync("gw-a");
        // The silo app is a cluster of its own on the same database: its grain and this cluster's are two activations.
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var other = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IGatewayGrain>("gw-a");
        using var gateway = new FakeGateway(PlatformTestCluster.Grains(cluster.Silos[0]));
        var commands = gateway.Reference;

        // Every batch reaches both activations, as a gateway re-sending after a lost answer through another silo.
        for (var sequence = 1; sequence <= 4; sequence++)
        {
            if (sequence % 2 == 0)
            {
                Assert.NotNull(await other.HeartbeatAsync(Heartbeat(commands, sequence, sequence)));
                Assert.NotNull(await silo.HeartbeatAsync("gw-a", refusals: Batch(sequence, sequence)));
            }
            else
            {
                Assert.NotNull(await silo.HeartbeatAsync("gw-a", refusals: Batch(sequence, sequence)));
                Assert.NotNull(await other.HeartbeatAsync(Heartbeat(commands, sequence, sequence)));
            }
        }

        Assert.Equal(1L + 2 + 3 + 4, await ScalarAsync<long>(database, "SELECT COALESCE(sum(count), 0)::bigint FROM refusal_counts"));

        // A drain through one activation is what the other answers next.
        Assert.True((await other.DrainAsync(new GatewayDrain(0, "operator:test"))).Drained);
        Assert.Equal(new HeartbeatResponse(GatewayStatuses.Draining, null), await silo.HeartbeatAsync("gw-a", refusals: Batch(4, 4)));
    }

    [Fact]
    public async Task Command_GatewayGrainDeactivated_UnavailableUntilTheNextHeartbeatRenewsTheObserver()
    {
        await using var database = await MigratedDatabaseAsync();
        await using var cluster = await PlatformTestCluster.StartAsync(database, ConnectionTransportType.TcpSocket);
        using var client = await PlatformTestCluster.ConnectClientAsync(cluster);
        var clusterClient = client.Services.GetRequiredService<IClusterClient>();
        using var gateway = new FakeGateway(clusterClient);
        var link = clusterClient.GetGrain<IGatewayLinkGrain>("gw-a");
        await link.RegisterAsync(new RegisterGatewayRequest("gw-a", "1.0", ["ws:8080"]), gateway.Reference);
        var grains = PlatformTestCluster.Grains(cluster.Silos[0]);
        var commands = PlatformTestCluster.Services(cluster.Silos[0]).GetRequiredService<GatewayCommandClient>();
        Assert.Equal(GatewayCommandAnswer.Accepted, await commands.ExecuteAsync("gw-a", Send("one"), CancellationToken.None));

        await grains.GetGrain<IGatewayGrain>("gw-a").Cast<IGrainManagementExtension>().DeactivateOnIdle();

        // The new activation reads the node live from its row, but no registration or heartbeat has told it the observer.
        Assert.Equal(GatewayCommandAnswer.Unavailable, await commands.ExecuteAsync("gw-a", Send("two"), CancellationToken.None));
        Assert.Equal(new HeartbeatResponse(GatewayStatuses.Up, null), await link.HeartbeatAsync(new HeartbeatRequest(0, 0), gateway.Reference));
        Assert.Equal(GatewayCommandAnswer.Accepted, await commands.ExecuteAsync("gw-a", Send("three"), CancellationToken.None));
        Assert.Equal([Send("one"), Send("three")], gateway.Received);
    }

    [Fact]
    public async Task Command_SiloHoldingTheGatewayGrainKilled_UnavailableUntilTheNextHeartbeatRenewsTheObserver()
    {
        await using var database = await MigratedDatabaseAsync();
        await using var cluster = await PlatformTestCluster.StartAsync(database, ConnectionTransportType.TcpSocket);
        using var client = await PlatformTestCluster.ConnectClientAsync(cluster);
        var clusterClient = client.Services.GetRequiredService<IClusterClient>();
        using var gateway = new FakeGateway(clusterClient);
        var link = clusterClient.GetGrain<IGatewayLinkGrain>("gw-a");
        await link.RegisterAsync(new RegisterGatewayRequest("gw-a", "1.0", ["ws:8080"]), gateway.Reference);
        var holder = await PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IManagementGrain>(0)
            .GetActivationAddress(PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IGatewayGrain>("gw-a"));
        var dying = cluster.Silos.Single(s => s.SiloAddress.Equals(holder));
        var survivor = cluster.Silos.Single(s => !s.SiloAddress.Equals(holder));
        var node = PlatformTestCluster.Grains(survivor).GetGrain<IGatewayGrain>("gw-a");
        Assert.Equal(GatewayCommandAnswer.Accepted, await node.CommandAsync(Send("one"), CancellationToken.None));

        await cluster.KillSiloAsync(dying);

        // Answered by a new activation on the survivor, which knows no observer until the gateway's next heartbeat.
        Assert.Equal(GatewayCommandAnswer.Unavailable, await PlatformTestCluster.UntilAnsweredAsync(() => node.CommandAsync(Send("two"), CancellationToken.None)));
        var heartbeat = await PlatformTestCluster.UntilAnsweredAsync(() => link.HeartbeatAsync(new HeartbeatRequest(0, 0), gateway.Reference));
        Assert.Equal(new HeartbeatResponse(GatewayStatuses.Up, null), heartbeat);
        Assert.Equal(GatewayCommandAnswer.Accepted, await node.CommandAsync(Send("three"), CancellationToken.None));
        Assert.Equal([Send("one"), Send("three")], gateway.Received);
        Assert.Equal(survivor.SiloAddress, await PlatformTestCluster.Grains(survivor).GetGrain<IManagementGrain>(0).GetActivationAddress(node));
    }

    private static SendCommand Send(string text) => new("gw-a.1", new SendMessageRequest(Text: text));

    /// <summary>A test database the silo's migrations were applied to, by a silo app that is gone again (its reaper with it).</summary>
    private static async Task<TestDatabase> MigratedDatabaseAsync()
    {
        var database = await TestDatabase.CreateAsync();
        await using (var silo = new SiloApp(database))
        {
            _ = silo.Services;
        }

        return database;
    }

    private static GatewayHeartbeat Heartbeat(IGatewayObserver commands, long sequence, long count) => new(0, 0,
        System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(Batch(sequence, count), PlatformJson.Options), sequence, commands);

    private static RefusalBatch Batch(long sequence, long count) => new(sequence, [new RefusalDelta(Minute, "", "ws", "max_connections", count)]);

    private static async Task<T> ScalarAsync<T>(TestDatabase database, string sql)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(TestDatabase database, string sql, DateTimeOffset? minute = null)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (minute is { } value)
        {
            command.Parameters.AddWithValue("minute", value);
        }

        await command.ExecuteNonQueryAsync();
    }
}
