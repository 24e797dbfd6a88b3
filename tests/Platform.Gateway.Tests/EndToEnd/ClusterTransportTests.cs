using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Silo;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>A gateway reaches the cluster only with a client certificate of the cluster CA.</summary>
public sealed class ClusterTransportTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Gateway_CertificateOfAnotherCa_IsRefusedAndNeverRegisters()
    {
        await using var silo = await SiloFixture.StartAsync();
        // Its own certificate comes from a CA the silo does not trust. Its bundle holds that CA and the cluster's, so the
        // gateway's own start-up check passes and only the silo's check can keep it out.
        var foreignCa = ClusterCertificates.CreateAuthority("foreign");
        var foreign = foreignCa.Issue("gateway", serverAuth: false, clientAuth: true)
            .Trusting(ClusterCertificates.Bundle(foreignCa, ClusterCertificates.Cluster));
        await using var intruder = await silo.StartGatewayAsync(settings: foreign.Settings());
        await using var member = await silo.StartGatewayAsync();

        // The member with a certificate of the cluster CA connects and registers: the silo is there to be reached.
        using (var limit = new CancellationTokenSource(WaitLimit))
        {
            while (!member.Services.GetRequiredService<GatewayRegistration>().Registered)
            {
                await Task.Delay(100, limit.Token);
            }
        }

        // By then the intruder has tried many times (its retries start at 200 ms); give it a few more.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(intruder.Services.GetRequiredService<ClusterConnection>().IsConnected);
        Assert.False(intruder.Services.GetRequiredService<GatewayRegistration>().Registered);
        var page = await silo.Operator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options);
        var gateways = page!.Items.Select(g => g.Id).ToList();
        Assert.Contains(member.NodeId, gateways);
        Assert.DoesNotContain(intruder.NodeId, gateways);
    }
}
