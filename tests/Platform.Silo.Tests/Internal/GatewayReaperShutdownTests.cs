using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Contracts.Gateways;
using Platform.Silo.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class GatewayReaperShutdownTests
{
    [Fact]
    public async Task ReapOnceAsync_SiloStopping_DeclaresNoGatewayDead()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = new SiloApp(database) { Time = time };
        await silo.RegisterGatewayAsync("gw-1");
        var reaper = silo.Services.GetRequiredService<GatewayReaper>();

        // SIGTERM: the host signals stopping first; heartbeats then go unanswered past the timeout while it stops.
        silo.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        time.Advance(TimeSpan.FromSeconds(30));
        var dead = await reaper.ReapOnceAsync(CancellationToken.None);

        Assert.Empty(dead);
        Assert.Equal(GatewayStatuses.Up, await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT status FROM gateway_nodes WHERE id = 'gw-1'"));
    }
}
