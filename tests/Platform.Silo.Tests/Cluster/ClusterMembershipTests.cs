using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Silo.Cluster;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Cluster;

public sealed class ClusterMembershipTests
{
    [Fact]
    public async Task TwoSilosOnOneDatabase_FormOneCluster_ListedUntilOneLeaves()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = new SiloApp(database);
        var operatorKey = first.OperatorKey;
        _ = first.Server;
        var second = new SiloApp(database, new Dictionary<string, string?> { ["Platform:OperatorKey"] = operatorKey });
        _ = second.Server;

        // Either silo answers for the whole cluster.
        var both = await WaitForAsync(second.ClientWith(operatorKey), page => page.Items.Count(s => s.Status == SiloStatuses.Active) == 2);
        Assert.Equal(2, both.Total);
        Assert.All(both.Items, s => Assert.Equal("127.0.0.1", s.Address));
        Assert.Equal(2, both.Items.Select(s => s.SiloPort).Distinct().Count());

        // A silo that stops cleanly marks itself dead; the other keeps listing it as such.
        await second.DisposeAsync();
        var after = await WaitForAsync(first.OperatorClient(), page => page.Items.Count(s => s.Status == SiloStatuses.Dead) == 1);
        Assert.Single(after.Items, s => s.Status == SiloStatuses.Active);
        Assert.Equal(SiloStatuses.Active, after.Items[0].Status);
    }

    [Fact]
    public async Task FailureDetectionSettings_ReachOrleans()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?>
        {
            ["Platform:Cluster:ProbeTimeoutSeconds"] = "2",
            ["Platform:Cluster:MissedProbesLimit"] = "4",
        });

        var membership = silo.Services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value;

        Assert.Equal(TimeSpan.FromSeconds(2), membership.ProbeTimeout);
        Assert.Equal(4, membership.NumMissedProbesLimit);
    }

    [Theory]
    [InlineData("ProbeTimeoutSeconds", 0)]
    [InlineData("ProbeTimeoutSeconds", 61)]
    [InlineData("MissedProbesLimit", 0)]
    [InlineData("MissedProbesLimit", 11)]
    public void FailureDetectionSettings_OutOfRange_Refused(string setting, int value)
    {
        var settings = setting == "ProbeTimeoutSeconds"
            ? new ClusterSettings { ProbeTimeoutSeconds = value }
            : new ClusterSettings { MissedProbesLimit = value };

        var error = Assert.Throws<InvalidOperationException>(settings.Validate);

        Assert.Contains($"Platform:Cluster:{setting}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silos_TenantKey_Forbidden()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        var key = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);

        using var response = await silo.ClientWith(key).GetAsync(new Uri("/v1/silos", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Silos_BadPaging_ValidationProblem()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        using var response = await silo.OperatorClient().GetAsync(new Uri("/v1/silos?limit=0", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"limit\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MembershipTable_StaleVersionOrEtag_WriteRefusedAndNothingWritten()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        _ = silo.Server;
        var table = ActivatorUtilities.CreateInstance<PostgresMembershipTable>(silo.Services);
        var before = await table.ReadAll();
        var entry = Entry(40001, SiloStatus.Joining);

        Assert.True(await table.InsertRow(entry, before.Version.Next()));
        // The version this writer read is gone: a second insert (another silo acting on the same view) loses.
        Assert.False(await table.InsertRow(Entry(40002, SiloStatus.Joining), before.Version.Next()));

        var now = await table.ReadAll();
        var (stored, etag) = now.Members.Single(m => m.Item1.SiloAddress.Equals(entry.SiloAddress));
        Assert.DoesNotContain(now.Members, m => m.Item1.SiloAddress.Endpoint.Port == 40002);

        stored.Status = SiloStatus.Active;
        stored.AddOrUpdateSuspector(now.Members[0].Item1.SiloAddress, DateTime.UtcNow, 10);
        Assert.False(await table.UpdateRow(stored, etag, before.Version.Next()), "stale table version");
        Assert.False(await table.UpdateRow(stored, "999", now.Version.Next()), "stale row etag");
        Assert.True(await table.UpdateRow(stored, etag, now.Version.Next()));

        var read = (await table.ReadRow(entry.SiloAddress)).Members.Single().Item1;
        Assert.Equal(SiloStatus.Active, read.Status);
        Assert.Single(read.SuspectTimes!);
        Assert.Equal(now.Members[0].Item1.SiloAddress, read.SuspectTimes![0].Item1);
    }

    [Fact]
    public async Task MembershipTable_Cleanup_RemovesOnlyOldDeadRows()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        _ = silo.Server;
        var table = ActivatorUtilities.CreateInstance<PostgresMembershipTable>(silo.Services);
        var oldDead = Entry(40011, SiloStatus.Dead, aliveAt: DateTime.UtcNow.AddDays(-2));
        var oldActive = Entry(40012, SiloStatus.Active, aliveAt: DateTime.UtcNow.AddDays(-2));
        var recentDead = Entry(40013, SiloStatus.Dead, aliveAt: DateTime.UtcNow);
        foreach (var entry in new[] { oldDead, oldActive, recentDead })
        {
            Assert.True(await table.InsertRow(entry, (await table.ReadAll()).Version.Next()));
        }

        await table.CleanupDefunctSiloEntries(DateTimeOffset.UtcNow.AddDays(-1));

        var ports = (await table.ReadAll()).Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).ToHashSet();
        Assert.DoesNotContain(40011, ports);
        Assert.Contains(40012, ports);
        Assert.Contains(40013, ports);
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("silo.example")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("ff02::1")]
    public void ClusterSettings_ListenAddressNotBindable_Refused(string address)
    {
        var settings = WithTls(new ClusterSettings { ListenAddress = address });

        var error = Assert.Throws<InvalidOperationException>(settings.Validate);

        Assert.Contains("Platform:Cluster:ListenAddress", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", "", "127.0.0.1")]
    [InlineData("10.1.2.3", "", "10.1.2.3")]
    [InlineData("203.0.113.5", "", "203.0.113.5")]
    [InlineData("2001:db8::5", "", "2001:db8::5")]
    [InlineData("0.0.0.0", "198.51.100.7", "198.51.100.7")]
    [InlineData("::", "fd00::5", "fd00::5")]
    [InlineData("10.1.2.3", "192.0.2.9", "192.0.2.9")]
    public void ClusterSettings_AnyAddressWithTls_Accepted(string listen, string advertised, string expected)
    {
        var settings = WithTls(new ClusterSettings { ListenAddress = listen, AdvertisedAddress = advertised });

        settings.Validate();

        Assert.Equal(IPAddress.Parse(listen), settings.Address);
        Assert.Equal(IPAddress.Parse(expected), settings.Advertised);
    }

    [Theory]
    [InlineData("0.0.0.0", "")]
    [InlineData("::", "")]
    [InlineData("127.0.0.1", "0.0.0.0")]
    [InlineData("127.0.0.1", "224.0.0.1")]
    [InlineData("127.0.0.1", "silo.example")]
    public void ClusterSettings_NoAddressOthersCanDial_Refused(string listen, string advertised)
    {
        var settings = WithTls(new ClusterSettings { ListenAddress = listen, AdvertisedAddress = advertised });

        var error = Assert.Throws<InvalidOperationException>(settings.Validate);

        Assert.Contains("Platform:Cluster:AdvertisedAddress", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CertificatePath")]
    [InlineData("KeyPath")]
    [InlineData("CaPath")]
    public void ClusterSettings_TlsPathMissing_RefusedNamingTheSetting(string setting)
    {
        var settings = WithTls(new ClusterSettings());
        _ = setting switch
        {
            "CertificatePath" => settings.Tls.CertificatePath = "",
            "KeyPath" => settings.Tls.KeyPath = " ",
            _ => settings.Tls.CaPath = "",
        };

        var error = Assert.Throws<InvalidOperationException>(settings.Validate);

        Assert.StartsWith($"Platform:Cluster:Tls:{setting} is required", error.Message, StringComparison.Ordinal);
    }

    private static ClusterSettings WithTls(ClusterSettings settings)
    {
        var files = ClusterCertificates.Cluster.Silo;
        settings.Tls = new() { CertificatePath = files.CertificatePath, KeyPath = files.KeyPath, CaPath = files.CaPath };
        return settings;
    }

    private static MembershipEntry Entry(int port, SiloStatus status, DateTime? aliveAt = null) => new()
    {
        SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), 7),
        Status = status,
        SiloName = $"test-{port}",
        HostName = "test-host",
        ProxyPort = port + 1000,
        StartTime = DateTime.UtcNow,
        IAmAliveTime = aliveAt ?? DateTime.UtcNow,
        SuspectTimes = [],
    };

    private static async Task<Page<SiloResponse>> WaitForAsync(HttpClient client, Func<Page<SiloResponse>, bool> predicate)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var page = await client.GetFromJsonAsync<Page<SiloResponse>>(new Uri("/v1/silos", UriKind.Relative), PlatformJson.Options, limit.Token);
            if (predicate(page!))
            {
                return page!;
            }

            await Task.Delay(200, limit.Token);
        }
    }
}
