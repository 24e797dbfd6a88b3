using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Egress;
using Platform.Gateway.Egress;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Tests.Support;

/// <summary>An <see cref="EgressConnector"/> outside a gateway host, for delivery and connector tests.</summary>
internal static class TestEgress
{
    public static EgressConnector Connector(
        IEnumerable<string>? allowedRanges = null,
        IEnumerable<string>? deniedRanges = null,
        IEgressResolver? resolver = null,
        GatewayOptions? options = null,
        TimeProvider? time = null,
        ILogger<EgressConnector>? logger = null,
        IEnumerable<IPAddress>? interfaceAddresses = null)
    {
        var policy = new EgressOptions
        {
            AllowedRanges = [.. allowedRanges ?? ["127.0.0.0/8"]],
            DeniedRanges = [.. deniedRanges ?? []],
        }.ToPolicy();
        var settings = Options.Create(options ?? new GatewayOptions());
        var own = new OwnEndpoints(new GatewayListeners(), settings, time ?? TimeProvider.System);
        if (interfaceAddresses is not null)
        {
            own = new OwnEndpoints(new GatewayListeners(), settings, time ?? TimeProvider.System) { ReadAddresses = () => interfaceAddresses };
        }

        return new EgressConnector(policy, resolver ?? new SystemEgressResolver(), own, time ?? TimeProvider.System,
            logger ?? NullLogger<EgressConnector>.Instance);
    }
}
