namespace Platform.Cluster;

/// <summary>
/// A gateway as the cluster reaches it: the gateway creates this reference when its cluster client connects and hands
/// it to its <c>GatewayGrain</c> with every registration and heartbeat, so a grain activated anew learns it again
/// within a heartbeat interval. Commands for the connections the gateway holds arrive here.
/// </summary>
[Alias("platform.gateway.observer")]
public interface IGatewayObserver : IGrainObserver
{
    /// <summary>Runs one command and says how it went.</summary>
    [Alias("execute")]
    Task<GatewayCommandAnswer> ExecuteAsync(GatewayCommand command);
}
