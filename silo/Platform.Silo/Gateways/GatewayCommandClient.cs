using Platform.Cluster;
using Platform.Silo.Gateways.Nodes;

namespace Platform.Silo.Gateways;

/// <summary>
/// Sends commands to gateways through their grains (<see cref="IGatewayGrain.CommandAsync"/>), which hold the
/// observer each gateway registered.
/// </summary>
internal sealed partial class GatewayCommandClient(IGrainFactory grains, ILogger<GatewayCommandClient> logger)
{
    public async Task<GatewayCommandAnswer> ExecuteAsync(string gatewayId, GatewayCommand command, CancellationToken cancellationToken)
    {
        try
        {
            return await grains.GetGrain<IGatewayGrain>(gatewayId).CommandAsync(command, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            // The grain could not be reached (a silo failing over): the gateway did not get the command.
            LogGrainUnreachable(logger, e, gatewayId, command.GetType().Name);
            return GatewayCommandAnswer.Unavailable;
        }
    }

    [LoggerMessage(EventId = 3402, Level = LogLevel.Warning, Message = "The grain of gateway {GatewayId} could not be reached for {Command}")]
    private static partial void LogGrainUnreachable(ILogger logger, Exception exception, string gatewayId, string command);
}
