using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Connections;

/// <summary>
/// A connection's metadata and forward target in the directory: the silo checks what a gateway reports against the
/// documented bounds before storing it, and the API answers them in the shape its OpenAPI document declares.
/// </summary>
public sealed class ConnectionMetadataTests
{
    [Fact]
    public async Task ConnectionEvents_MetadataOutOfBoundsOrMalformedTarget_ConnectionStoredWithoutThem()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        var at = DateTimeOffset.UtcNow;
        ConnectionOpened Opened(string id, IReadOnlyDictionary<string, string>? metadata, string? target = null) =>
            InternalTestFixture.Opened(id, tenantId).Ws(at) with { Metadata = metadata, ForwardTarget = target };

        var largest = Enumerable.Range(0, ConnectionMetadata.MaxEntries)
            .ToDictionary(i => $"K{i}".PadRight(ConnectionMetadata.MaxKeyLength, 'x'), i => new string('v', ConnectionMetadata.MaxValueLength));
        var batch = new ConnectionEventBatch(
            [
                Opened("gw-1.1", new Dictionary<string, string> { ["User.Id"] = "u-42", ["plan"] = "gold" }, "backend.example:9000"),
                Opened("gw-1.2", largest, "[2001:db8::1]:443"),
                Opened("gw-1.3", Enumerable.Range(0, ConnectionMetadata.MaxEntries + 1).ToDictionary(i => $"k{i}", i => "v")),
                Opened("gw-1.4", new Dictionary<string, string> { ["big"] = new string('v', ConnectionMetadata.MaxValueLength + 1) }),
                Opened("gw-1.5", new Dictionary<string, string> { [new string('k', ConnectionMetadata.MaxKeyLength + 1)] = "v" }),
                Opened("gw-1.6", new Dictionary<string, string> { ["nul"] = "a\u0000b" }),
                Opened("gw-1.7", new Dictionary<string, string> { ["bad key"] = "v" }),
                Opened("gw-1.8", new Dictionary<string, string> { [""] = "v" }),
                Opened("gw-1.9", null, "no-port"),
                Opened("gw-1.a", null, new string('h', 300) + ":80"),
                Opened("gw-1.b", null, "host:70000"),
                Opened("gw-1.c", new Dictionary<string, string>(), "user@host:80"),
            ],
            [], []);

        // Nothing in the batch stops it: every connection is listed, only what keeps the rules with it.
        Assert.True(await silo.SendEventsAsync("gw-1", batch));

        var page = await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections?limit=100", PlatformJson.Options);
        var byId = page!.Items.ToDictionary(c => c.Id);
        Assert.Equal(12, byId.Count);
        Assert.Equal(new Dictionary<string, string> { ["User.Id"] = "u-42", ["plan"] = "gold" }, byId["gw-1.1"].Metadata);
        Assert.Equal("backend.example:9000", byId["gw-1.1"].ForwardTarget);
        Assert.Equal(largest, byId["gw-1.2"].Metadata);
        Assert.Equal("[2001:db8::1]:443", byId["gw-1.2"].ForwardTarget);
        foreach (var id in new[] { "gw-1.3", "gw-1.4", "gw-1.5", "gw-1.6", "gw-1.7", "gw-1.8", "gw-1.9", "gw-1.a", "gw-1.b", "gw-1.c" })
        {
            Assert.Null(byId[id].Metadata);
            Assert.Null(byId[id].ForwardTarget);
        }

        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT count(*) FROM connections WHERE id NOT IN ('gw-1.1', 'gw-1.2') AND (metadata IS NOT NULL OR forward_target IS NOT NULL)"));

        // The grain's memory and the stored rows agree: a fresh read of the open connections after a reload gives the same.
        var single = await silo.OperatorClient().GetFromJsonAsync<ConnectionResponse>("/v1/tenants/acme/connections/gw-1.1", PlatformJson.Options);
        Assert.Equal(byId["gw-1.1"].Metadata, single!.Metadata);
        Assert.Empty(await silo.CheckExchangesAsync());
    }

    [Fact]
    public async Task ConnectionEvents_ClosedConnection_KeepsMetadataInItsStoredRow()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await InternalTestFixture.InsertTenantRowsAsync(silo, "other");
        await silo.RegisterGatewayAsync("gw-1");
        var at = DateTimeOffset.UtcNow;
        var opened = InternalTestFixture.Opened("gw-1.1", tenantId).Ws(at) with { Metadata = new Dictionary<string, string> { ["Device"] = "d-7" } };
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([opened], [], [])));
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [], [], [new ConnectionClosed(new ConnectionCounters("gw-1.1", 1, 2, 1, 1, at.AddSeconds(1)), at.AddSeconds(2), 1000, "normal")])));

        var closed = await silo.OperatorClient().GetFromJsonAsync<ConnectionResponse>("/v1/tenants/acme/connections/gw-1.1", PlatformJson.Options);
        Assert.NotNull(closed!.ClosedAt);
        Assert.Equal(new Dictionary<string, string> { ["Device"] = "d-7" }, closed.Metadata);
        using var elsewhere = await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/other/connections/gw-1.1", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, elsewhere.StatusCode);
        Assert.DoesNotContain("d-7", await elsewhere.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await silo.CheckExchangesAsync());
    }

    [Fact]
    public async Task Document_ConnectionMetadata_IsAnObjectOfStringsOrNull()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var document = (await silo.ConformanceAsync()).Document;

        var properties = document.GetProperty("components").GetProperty("schemas").GetProperty("ConnectionResponse").GetProperty("properties");
        var metadata = properties.GetProperty("metadata");
        Assert.True(metadata.TryGetProperty("type", out var type), metadata.ToString());
        Assert.Equal(["null", "object"], (type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!) : [type.GetString()!]).Order());
        Assert.Equal("string", metadata.GetProperty("additionalProperties").GetProperty("type").GetString());
        Assert.Equal(ConnectionMetadata.MaxEntries, metadata.GetProperty("maxProperties").GetInt32());
        Assert.Equal(ConnectionMetadata.MaxValueLength, metadata.GetProperty("additionalProperties").GetProperty("maxLength").GetInt32());
        Assert.Contains("null", properties.GetProperty("forwardTarget").GetProperty("type").ToString(), StringComparison.Ordinal);
    }
}
