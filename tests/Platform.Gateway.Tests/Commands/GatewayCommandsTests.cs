using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Cluster;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Gateway.Commands;
using Platform.Gateway.Connections;
using Platform.Gateway.Dtls;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Commands;

/// <summary>The gateway's observer: what each command does to the connections, the drain state and the leases, and what it answers.</summary>
public sealed class GatewayCommandsTests : IDisposable
{
    private readonly AdmissionRig _rig = new(batch: 2);
    private readonly ConnectionRegistry _registry;
    private readonly GatewayCommands _commands;

    public GatewayCommandsTests()
    {
        var options = Options.Create(new GatewayOptions());
        var events = new ConnectionEventSink(options, _rig.Time, NullLogger<ConnectionEventSink>.Instance);
        _registry = new ConnectionRegistry(events, _rig.Metrics, _rig.Store, _rig.Drain, NullLogger<ConnectionRegistry>.Instance);
        _commands = new GatewayCommands(_registry, _rig.Drain, _rig.Leases, _rig.Time, NullLogger<GatewayCommands>.Instance);
    }

    [Fact]
    public async Task Send_TextOrBinaryToAnOpenConnection_AcceptedAndDelivered()
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());

        Assert.Equal(GatewayCommandAnswer.Accepted, await _commands.ExecuteAsync(new SendCommand("gw-a.1", new SendMessageRequest(Text: "hello"))));
        Assert.Equal(GatewayCommandAnswer.Accepted, await _commands.ExecuteAsync(new SendCommand("gw-a.1", new SendMessageRequest(Binary: "AAEC"))));

        Assert.Equal([("hello", true), ("AAEC", false)], connection.Received);
    }

    [Theory]
    [InlineData(null, null, "text")]
    [InlineData("both", "AAEC", "text")]
    [InlineData(null, "not base64!", "binary")]
    public async Task Send_NotExactlyOneValidPayload_InvalidNamingTheFieldAndNothingSent(string? text, string? binary, string field)
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());

        var answer = await _commands.ExecuteAsync(new SendCommand("gw-a.1", new SendMessageRequest(text, binary)));

        Assert.Equal(GatewayCallStatus.Invalid, answer.Status);
        Assert.Equal(field, Assert.Single(answer.Errors!).Field);
        Assert.Empty(connection.Received);
    }

    [Fact]
    public async Task Send_NoSuchConnection_NotFound()
    {
        Open("gw-a.1", TestTenants.Tenant());

        Assert.Equal(GatewayCommandAnswer.NotFound, await _commands.ExecuteAsync(new SendCommand("gw-a.2", new SendMessageRequest(Text: "x"))));
    }

    [Fact]
    public async Task Send_ConnectionClosingMidSend_NotFound()
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());
        connection.SendFails = new IOException("reset");

        Assert.Equal(GatewayCommandAnswer.NotFound, await _commands.ExecuteAsync(new SendCommand("gw-a.1", new SendMessageRequest(Text: "x"))));
    }

    [Fact]
    public async Task Send_ClientNotReading_NotFoundOnceTheSendTimeoutPasses()
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());
        connection.Stalled = true;

        var pending = _commands.ExecuteAsync(new SendCommand("gw-a.1", new SendMessageRequest(Text: "x")));
        _rig.Time.Advance(GatewayCommands.SendTimeout - TimeSpan.FromSeconds(1));
        Assert.False(pending.IsCompleted);
        _rig.Time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(GatewayCommandAnswer.NotFound, await pending.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Send_DatagramOverTheSessionLimit_InvalidNamingThePayloadField()
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());
        connection.SendFails = new DatagramTooLargeException(2000, 1150);

        var answer = await _commands.ExecuteAsync(new SendCommand("gw-a.1", new SendMessageRequest(Binary: "AAEC")));

        Assert.Equal(GatewayCallStatus.Invalid, answer.Status);
        var error = Assert.Single(answer.Errors!);
        Assert.Equal("binary", error.Field);
        Assert.Contains("1150", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1000, true)]
    [InlineData(3000, true)]
    [InlineData(4999, true)]
    [InlineData(999, false)]
    [InlineData(1001, false)]
    [InlineData(2999, false)]
    [InlineData(5000, false)]
    public async Task Disconnect_CloseCode_OnlyNormalOrTheApplicationRange(int code, bool accepted)
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());

        var answer = await _commands.ExecuteAsync(new DisconnectCommand("gw-a.1", new DisconnectRequest(code, "bye")));

        if (accepted)
        {
            Assert.Equal(GatewayCommandAnswer.Accepted, answer);
            Assert.Equal((code, "bye"), connection.Closed);
        }
        else
        {
            Assert.Equal("code", Assert.Single(answer.Errors!).Field);
            Assert.Null(connection.Closed);
        }
    }

    [Fact]
    public async Task Disconnect_ReasonOver123BytesOfUtf8_InvalidAndStillOpen()
    {
        var connection = Open("gw-a.1", TestTenants.Tenant());

        // 62 two-byte characters: 124 bytes, though only 62 characters.
        var answer = await _commands.ExecuteAsync(new DisconnectCommand("gw-a.1", new DisconnectRequest(Reason: new string('é', 62))));
        var fits = await _commands.ExecuteAsync(new DisconnectCommand("gw-a.1", new DisconnectRequest(Reason: new string('é', 61))));

        Assert.Equal("reason", Assert.Single(answer.Errors!).Field);
        Assert.Equal(GatewayCommandAnswer.Accepted, fits);
    }

    [Fact]
    public async Task Disconnect_NoSuchConnection_NotFound()
    {
        Assert.Equal(GatewayCommandAnswer.NotFound, await _commands.ExecuteAsync(new DisconnectCommand("gw-a.9", new DisconnectRequest())));
    }

    [Fact]
    public async Task Broadcast_CountsAndReachesOnlyTheTenantsConnections()
    {
        var acme = TestTenants.Tenant("acme");
        var other = TestTenants.Tenant("other");
        var a1 = Open("gw-a.1", acme);
        var a2 = Open("gw-a.2", acme);
        var o1 = Open("gw-a.3", other);
        a2.SendFails = new IOException("closing");

        var answer = await _commands.ExecuteAsync(new BroadcastCommand(acme.Id, new SendMessageRequest(Text: "to all")));

        // A connection closing as the broadcast reaches it is counted (the message was queued) and simply misses it.
        Assert.Equal(new GatewayCommandAnswer(GatewayCallStatus.Accepted, Delivered: 2), answer);
        await Wait.UntilAsync(() => a1.Received.Count == 1, "the broadcast on the first connection");
        Assert.Equal([("to all", true)], a1.Received);
        Assert.Empty(o1.Received);
    }

    [Fact]
    public async Task Broadcast_InvalidPayload_InvalidAndNothingSent()
    {
        var acme = TestTenants.Tenant("acme");
        var a1 = Open("gw-a.1", acme);

        var answer = await _commands.ExecuteAsync(new BroadcastCommand(acme.Id, new SendMessageRequest()));

        Assert.Equal("text", Assert.Single(answer.Errors!).Field);
        Assert.Empty(a1.Received);
    }

    [Fact]
    public async Task Drain_NegativeDeadline_InvalidAndStillAdmitting()
    {
        var answer = await _commands.ExecuteAsync(new DrainCommand(new DrainGatewayRequest(DeadlineSeconds: -1)));

        Assert.Equal("deadlineSeconds", Assert.Single(answer.Errors!).Field);
        Assert.False(_rig.Drain.IsDraining);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(30, 30)]
    public async Task Drain_Deadline_DrainsWithTheDeadlineFromNow(int seconds, int? expected)
    {
        var answer = await _commands.ExecuteAsync(new DrainCommand(new DrainGatewayRequest(DeadlineSeconds: seconds)));

        Assert.Equal(GatewayCommandAnswer.Accepted, answer);
        Assert.True(_rig.Drain.IsDraining);
        Assert.Equal(expected is { } s ? _rig.Time.GetUtcNow().AddSeconds(s) : null, _rig.Drain.Deadline);
    }

    [Fact]
    public async Task SyncLeases_NamedTenant_TheNextRoundReportsItThoughNothingChanged()
    {
        var tenant = (await _rig.PublishAsync(TestTenants.Snapshot("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 10 } })))[0];
        var before = _rig.LeaseClient.Requests.Count;
        await _rig.Leases.SyncOnceAsync(CancellationToken.None);
        Assert.Equal(before, _rig.LeaseClient.Requests.Count);

        var answer = await _commands.ExecuteAsync(new SyncLeasesCommand([tenant.Id]));
        await _rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal(GatewayCommandAnswer.Accepted, answer);
        var reported = Assert.Single(_rig.LeaseClient.Requests[^1].Leases);
        Assert.Equal((tenant.Id, 2), (reported.TenantId, reported.Held));
    }

    [Fact]
    public async Task SyncLeases_OverTheLimit_InvalidAndNothingReported()
    {
        await _rig.PublishAsync(TestTenants.Snapshot("acme"));
        var before = _rig.LeaseClient.Requests.Count;

        var answer = await _commands.ExecuteAsync(new SyncLeasesCommand([.. Enumerable.Range(0, GatewayCommands.MaxLeaseSyncTenants + 1).Select(_ => Guid.NewGuid())]));
        await _rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal("tenantIds", Assert.Single(answer.Errors!).Field);
        Assert.Equal(before, _rig.LeaseClient.Requests.Count);
    }

    private ScriptedConnection Open(string id, TenantRuntime tenant)
    {
        var connection = new ScriptedConnection(id, tenant, _rig.Time);
        _registry.Add(connection);
        return connection;
    }

    public void Dispose() => _rig.Dispose();
}
