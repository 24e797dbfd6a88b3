namespace Platform.Gateway.Delivery;

/// <summary>The forward target could not be reached; the client is refused (502 for WebSocket, a close for streams).</summary>
internal sealed class BackendUnreachableException(string target, string reason, Exception? inner = null)
    : Exception($"Backend {target} unreachable: {reason}", inner)
{
    public string Target { get; } = target;

    public string Reason { get; } = reason;
}
