using System.Collections.Concurrent;
using Platform.Cluster;

namespace Platform.Silo.Tests.Gateways;

/// <summary>
/// A gateway as the cluster reaches it: an <see cref="IGatewayObserver"/> registered with the grain factory of the
/// silo or client it stands behind (<see cref="Reference"/> is what it hands to its link grain), recording every
/// command it receives and answering what the test sets. The test holds it for as long as the silo may call it: a
/// grain observer is referenced weakly.
/// </summary>
internal sealed class FakeGateway : IGatewayObserver, IDisposable
{
    private readonly IGrainFactory _grains;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FakeGateway(IGrainFactory grains)
    {
        _grains = grains;
        Reference = grains.CreateObjectReference<IGatewayObserver>(this);
    }

    /// <summary>The reference the gateway passes with its registration and heartbeats.</summary>
    public IGatewayObserver Reference { get; }

    public ConcurrentQueue<GatewayCommand> Received { get; } = new();

    /// <summary>
    /// The answer to a connection command the gateway holds; accepted unless a test wants another outcome (broadcasts
    /// answer <see cref="BroadcastDelivered"/>, connections in <see cref="GoneConnections"/> are not found).
    /// </summary>
    public GatewayCommandAnswer Answer { get; set; } = GatewayCommandAnswer.Accepted;

    /// <summary>Thrown instead of answering, as a gateway whose command handler failed.</summary>
    public Exception? Failure { get; set; }

    /// <summary>When set, commands are recorded but not answered until the gateway is disposed.</summary>
    public bool Silent { get; set; }

    /// <summary>Connection ids the gateway does not hold (closed on the gateway meanwhile).</summary>
    public ConcurrentDictionary<string, bool> GoneConnections { get; } = new();

    public long BroadcastDelivered { get; set; } = 3;

    public async Task<GatewayCommandAnswer> ExecuteAsync(GatewayCommand command)
    {
        Received.Enqueue(command);
        if (Silent)
        {
            await _release.Task;
            return GatewayCommandAnswer.Unavailable;
        }

        if (Failure is { } failure)
        {
            throw failure;
        }

        return command switch
        {
            SendCommand send when GoneConnections.ContainsKey(send.ConnectionId) => GatewayCommandAnswer.NotFound,
            DisconnectCommand disconnect when GoneConnections.ContainsKey(disconnect.ConnectionId) => GatewayCommandAnswer.NotFound,
            BroadcastCommand when Answer.Status == GatewayCallStatus.Accepted => new GatewayCommandAnswer(GatewayCallStatus.Accepted, BroadcastDelivered),
            _ => Answer,
        };
    }

    public void Dispose()
    {
        if (_release.TrySetResult())
        {
            _grains.DeleteObjectReference<IGatewayObserver>(Reference);
        }
    }
}
