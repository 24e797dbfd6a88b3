using Microsoft.AspNetCore.Http;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Tests.Support;
using Platform.Gateway.WebSockets;

namespace Platform.Gateway.Tests.WebSockets;

public sealed class TenantResolverTests
{
    private static readonly Platform.Gateway.Tenants.GatewaySnapshot Snapshot = TestTenants.Compiler().Apply(
        Platform.Gateway.Tenants.GatewaySnapshot.Empty,
        new ConfigWatchResponse(5, true, [
            TestTenants.Snapshot("acme", new TenantConfig { HostNames = ["devices.acme.example", "pending.acme.example"] },
                hostNames: ["acme.platform.test", "devices.acme.example"]),
            TestTenants.Snapshot("beta"),
        ], []));

    [Theory]
    [InlineData(null, "acme.platform.test:8080", "/", "acme")]
    [InlineData(null, "DEVICES.acme.example", "/x", "acme")]
    [InlineData(null, "127.0.0.1:8080", "/t/beta/socket", "beta")]
    [InlineData(null, "127.0.0.1:8080", "/t/beta", "beta")]
    [InlineData("beta.platform.test", "acme.platform.test", "/", "beta")]
    [InlineData(null, "[::1]:8080", "/t/acme/", "acme")]
    public void Resolve_FirstMatchWins(string? sni, string host, string path, string expected)
    {
        var tenant = TenantResolver.Resolve(Snapshot, sni, host, new PathString(path), out _);
        Assert.Equal(expected, tenant?.Slug);
    }

    [Theory]
    [InlineData("unknown.platform.test", "/")]
    [InlineData("127.0.0.1", "/t/nobody/")]
    [InlineData("127.0.0.1", "/tx/acme/")]
    [InlineData("pending.acme.example", "/")]
    public void Resolve_NoMatch_Null(string host, string path)
    {
        Assert.Null(TenantResolver.Resolve(Snapshot, null, host, new PathString(path), out _));
    }
}
