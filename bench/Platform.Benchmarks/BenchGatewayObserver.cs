using Platform.Cluster;

namespace Platform.Benchmarks;

/// <summary>
/// The fake gateway's command endpoint: it holds no connections, so sends and disconnects find nothing; drains and
/// lease-sync requests are taken (the measured syncs go on regardless).
/// </summary>
internal sealed class BenchGatewayObserver : IGatewayObserver
{
    public Task<GatewayCommandAnswer> ExecuteAsync(GatewayCommand command) => Task.FromResult(command switch
    {
        SendCommand or DisconnectCommand => GatewayCommandAnswer.NotFound,
        _ => GatewayCommandAnswer.Accepted,
    });
}
