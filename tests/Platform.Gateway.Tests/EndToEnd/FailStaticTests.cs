using Microsoft.Extensions.DependencyInjection;
using Platform.Gateway.Admission;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>A gateway started while no silo answers serves from the snapshot it saved earlier.</summary>
public sealed class FailStaticTests
{
    [Fact]
    public async Task Start_SiloRefusesConnections_ServesEchoFromTheSavedSnapshot()
    {
        var state = Directory.CreateTempSubdirectory("gw-failstatic-").FullName;
        try
        {
            Guid tenantId;
            await using (var silo = await SiloFixture.StartAsync())
            {
                tenantId = (await silo.CreateTenantAsync("acme")).Id;
                await using var first = await silo.StartGatewayAsync(state);
                await first.WaitForTenantAsync("acme");
                var saved = first.Services.GetRequiredService<SnapshotPersistence>().FilePath;
                await Wait.UntilAsync(() => File.Exists(saved), "the snapshot file");
            }

            // Nothing listens on this port: the cluster client never connects, and the gateway does not wait for it.
            var nowhere = $"127.0.0.1:{FreePorts.Tcp()}";
            await using var gateway = await TestGateway.StartAsync(nowhere, state);

            Assert.True(gateway.Store.Current.BySlug.ContainsKey("acme"), "the snapshot on disk was not loaded");
            await gateway.WaitForLeaseAsync(tenantId, 1);
            Assert.True(gateway.Services.GetRequiredService<LeaseManager>().FailStatic);
            using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
            await WsClient.SendTextAsync(client, "served while the silo is away");
            Assert.Equal("served while the silo is away", await WsClient.ReceiveTextAsync(client));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
