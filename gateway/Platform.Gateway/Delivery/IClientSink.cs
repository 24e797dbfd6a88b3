namespace Platform.Gateway.Delivery;

/// <summary>The client side of a connection as a delivery sees it.</summary>
internal interface IClientSink
{
    /// <summary>Sends one message to the client; completes when the client side has taken it (backpressure).</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken);

    /// <summary>Closes the client connection with a platform close code and reason (WebSocket close frame, TCP close, DTLS close_notify).</summary>
    void Close(int code, string? reason);
}
