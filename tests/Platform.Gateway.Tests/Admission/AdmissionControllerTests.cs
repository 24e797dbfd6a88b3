using System.Net;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Admission;

public sealed class AdmissionControllerTests
{
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.2");

    private static TenantConfig Config(string allowed = "*", string blocked = "", int max = 1000, int perSecond = 0, int perClient = 0) => new()
    {
        Access = new AccessConfig { AllowedClients = allowed, BlockedClients = blocked },
        Limits = new LimitsConfig { MaxConnections = max, ConnectionsPerSecond = perSecond, MaxConnectionsPerClient = perClient },
    };

    [Fact]
    public async Task TryAdmit_BlockedAndAllowed_BlockedWins()
    {
        using var rig = new AdmissionRig();
        var (tenant, _) = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(allowed: "127.0.0.0/8", blocked: "127.0.0.2"))))[0] is var t ? (t, 0) : default;

        Assert.Equal(RefusalReason.Blocked, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out var ticket, out _));
        Assert.Null(ticket);
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, IPAddress.Parse("127.0.0.3"), deferLateLease: false, out ticket, out _));
        ticket!.Dispose();
        Assert.Equal(1, rig.RefusalCount("acme", "blocked"));
    }

    [Fact]
    public async Task TryAdmit_NotInAllowedList_Refused()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(allowed: "10.0.0.0/8"))))[0];

        Assert.Equal(RefusalReason.NotAllowed, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(1, rig.RefusalCount("acme", "not_allowed"));
    }

    [Fact]
    public async Task TryAdmit_BlockedHostNameEntry_RefusedWhilePendingThenPerConfirmedAnswer()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(blocked: "*.bad.example"))))[0];
        var other = IPAddress.Parse("127.0.0.3");

        Assert.Equal(RefusalReason.ReverseDnsPending, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.ReverseDnsPending, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, other, deferLateLease: false, out _, out _));
        Assert.Equal(2, rig.RefusalCount("acme", "reverse_dns_pending"));

        await rig.Resolver.AnswerAsync(Client, ReverseDnsResult.Confirmed(["device.bad.example"], TimeSpan.FromMinutes(5)));
        await rig.Resolver.AnswerAsync(other, ReverseDnsResult.NoName(TimeSpan.FromMinutes(5)));
        await Wait.UntilAsync(() => rig.Names.Running == 0, "the answers to be stored");

        Assert.Equal(RefusalReason.Blocked, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, other, deferLateLease: false, out var ticket, out _));
        ticket!.Dispose();
    }

    [Fact]
    public async Task TryAdmit_BlockedHostNameEntry_FailedLookupStillRefused()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(blocked: "*.bad.example"))))[0];

        rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _);
        await rig.Resolver.AnswerAsync(Client, ReverseDnsResult.Failure("timeout"));
        await Wait.UntilAsync(() => rig.Names.Running == 0, "the failure to be stored");

        Assert.Equal(RefusalReason.ReverseDnsPending, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
    }

    [Fact]
    public async Task TryAdmit_AllowedHostNameEntry_OnlyAddressEntriesAdmitUntilNamesAreConfirmed()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(allowed: "127.0.0.9, *.example.com"))))[0];
        var unnamed = IPAddress.Parse("127.0.0.3");

        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, IPAddress.Parse("127.0.0.9"), deferLateLease: false, out var ticket, out _));
        ticket!.Dispose();
        Assert.Equal(RefusalReason.ReverseDnsPending, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.ReverseDnsPending, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, unnamed, deferLateLease: false, out _, out _));

        await rig.Resolver.AnswerAsync(Client, ReverseDnsResult.Confirmed(["device.example.com"], TimeSpan.FromMinutes(5)));
        await rig.Resolver.AnswerAsync(unnamed, ReverseDnsResult.NoName(TimeSpan.FromMinutes(5)));
        await rig.Resolver.AnswerAsync(IPAddress.Parse("127.0.0.9"), ReverseDnsResult.NoName(TimeSpan.FromMinutes(5)));
        await Wait.UntilAsync(() => rig.Names.Running == 0, "the answers to be stored");

        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out ticket, out _));
        ticket!.Dispose();
        Assert.Equal(RefusalReason.NotAllowed, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, unnamed, deferLateLease: false, out _, out _));
    }

    [Fact]
    public async Task TryAdmit_AddressListsOnly_NoLookup()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(allowed: "127.0.0.0/8", blocked: "10.0.0.1"))))[0];

        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out var ticket, out _));
        ticket!.Dispose();
        Assert.Equal(0, rig.Resolver.Calls);
    }

    [Fact]
    public async Task TryAdmit_Suspended_Refused()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", status: "suspended")))[0];

        Assert.Equal(RefusalReason.Suspended, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
    }

    [Fact]
    public async Task TryAdmit_Draining_Refused()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme")))[0];
        rig.Drain.Begin(null);

        Assert.Equal(RefusalReason.Draining, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
    }

    [Fact]
    public async Task TryAdmit_RateExceeded_RefusedUntilTokensRefill()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(perSecond: 2))))[0];

        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.RateLimited, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        rig.Time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(1, rig.RefusalCount("acme", "rate_limited"));
    }

    [Fact]
    public async Task TryAdmit_PerClientCap_CountsOpenConnectionsPerAddress()
    {
        using var rig = new AdmissionRig();
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(perClient: 2))))[0];

        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out var first, out _));
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.PerClientLimit, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, IPAddress.Parse("127.0.0.3"), deferLateLease: false, out _, out _));
        first!.Dispose();
        first.Dispose();
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(RefusalReason.PerClientLimit, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
    }

    [Fact]
    public async Task TryAdmit_MaxConnections_NeverExceededAndSlotReturnsOnDispose()
    {
        using var rig = new AdmissionRig(batch: 16);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(max: 3))))[0];

        var tickets = new List<AdmissionTicket>();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out var ticket, out _));
            tickets.Add(ticket!);
        }

        Assert.Equal(RefusalReason.MaxConnections, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        await rig.Leases.SyncOnceAsync(CancellationToken.None);
        Assert.Equal(RefusalReason.MaxConnections, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        tickets[0].Dispose();
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Ws, Client, deferLateLease: false, out _, out _));
        Assert.Equal(2, rig.RefusalCount("acme", "max_connections"));
    }

    [Fact]
    public async Task AdmitAsync_AtMaxConnections_RefusedAtOnceAndCountedOnce()
    {
        using var rig = new AdmissionRig(batch: 16);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(max: 2))))[0];
        Assert.Equal(RefusalReason.None, (await rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Ws, Client, CancellationToken.None)).Reason);
        Assert.Equal(RefusalReason.None, (await rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Ws, Client, CancellationToken.None)).Reason);

        var refused = rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Ws, Client, CancellationToken.None);

        Assert.True(refused.IsCompleted, "this gateway holds the whole maximum: nothing to wait for");
        var (reason, ticket) = await refused;
        Assert.Equal(RefusalReason.MaxConnections, reason);
        Assert.Null(ticket);
        Assert.Equal(1, rig.RefusalCount("acme", "max_connections"));
    }

    [Fact]
    public async Task AdmitAsync_BurstBeyondLease_AdmittedOnceTheGrantArrives()
    {
        using var rig = new AdmissionRig(batch: 1);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(max: 10))))[0];
        Assert.Equal(RefusalReason.None, (await rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Ws, Client, CancellationToken.None)).Reason);

        var waiting = rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Ws, Client, CancellationToken.None).AsTask();
        await rig.Leases.SyncOnceAsync(CancellationToken.None);
        var (reason, ticket) = await waiting.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(RefusalReason.None, reason);
        Assert.NotNull(ticket);
        Assert.Equal(0, rig.RefusalCount("acme", "max_connections"));
    }

    [Fact]
    public async Task TryAdmit_DeferLateLease_DeferredUncountedWhileMoreCanBeLeasedRefusedAtTheMaximum()
    {
        using var rig = new AdmissionRig(batch: 1);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(max: 2))))[0];
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Dtls, Client, deferLateLease: true, out var first, out var deferred));
        Assert.False(deferred);

        // The one leased slot is taken, but the silo can still grant the second: not yet, and not a refusal.
        Assert.Equal(RefusalReason.MaxConnections, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Dtls, Client, deferLateLease: true, out var none, out deferred));
        Assert.True(deferred);
        Assert.Null(none);
        Assert.Equal(0, rig.RefusalCount("acme", "max_connections"));

        await rig.Leases.SyncOnceAsync(CancellationToken.None);
        Assert.Equal(RefusalReason.None, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Dtls, Client, deferLateLease: true, out var second, out deferred));
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        // Both slots of the maximum are held here: a refusal, counted.
        Assert.Equal(RefusalReason.MaxConnections, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Dtls, Client, deferLateLease: true, out _, out deferred));
        Assert.False(deferred);
        Assert.Equal(1, rig.RefusalCount("acme", "max_connections"));
        first!.Dispose();
        second!.Dispose();
    }

    [Fact]
    public async Task AdmitAsync_ClientGoneWhileWaitingForTheLease_GivesBackItsPerAddressCount()
    {
        using var rig = new AdmissionRig(batch: 1);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Config(max: 10, perClient: 2))))[0];
        var (_, first) = await rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Tls, Client, CancellationToken.None);
        Assert.NotNull(first);

        using (var gone = new CancellationTokenSource())
        {
            var waiting = rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Tls, Client, gone.Token).AsTask();
            await gone.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }

        // The abandoned attempt holds nothing: the address still has its second connection once slots arrive.
        await rig.Leases.SyncOnceAsync(CancellationToken.None);
        var (reason, second) = await rig.Controller.AdmitAsync(tenant, ConnectionProtocols.Tls, Client, CancellationToken.None);
        Assert.Equal(RefusalReason.None, reason);
        Assert.Equal(RefusalReason.PerClientLimit, rig.Controller.TryAdmit(tenant, ConnectionProtocols.Tls, Client, deferLateLease: false, out _, out _));
        first.Dispose();
        second!.Dispose();
    }
}
