namespace Platform.Gateway.Delivery;

/// <summary>
/// Where one client connection's data goes (echo, forward, later webhook), for every protocol
/// (WebSocket, TCP, TLS, DTLS). Created before the client is told it is accepted, so a delivery that
/// cannot start refuses the connection with the protocol's signal.
/// </summary>
internal interface IDelivery : IAsyncDisposable
{
    /// <summary>
    /// One client message (a WebSocket message, or a framed chunk of a stream). Completes when the
    /// delivery has taken it; a slow destination makes this slow, which pauses reading from the client.
    /// </summary>
    ValueTask OnClientMessageAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken);

    /// <summary>Moves data from the destination to the client until the destination ends or the token fires.</summary>
    Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken);

    /// <summary>
    /// The WebSocket sub-protocol the destination chose for this connection (a webhook's connect answer), or null to let
    /// the tenant's WebSocket policy choose.
    /// </summary>
    string? SubProtocol => null;

    /// <summary>The metadata a webhook's connect answer attached to this connection, or null or empty when none.</summary>
    IReadOnlyDictionary<string, string>? Metadata => null;

    /// <summary>Where this connection is forwarded (<c>host:port</c>), or null when it is not forwarded.</summary>
    string? ForwardTarget => null;
}

/// <summary>How the destination side ended.</summary>
internal enum DeliveryEnd
{
    /// <summary>The connection was closed from the client side (the delivery was cancelled).</summary>
    Cancelled,

    /// <summary>The destination closed normally.</summary>
    DestinationClosed,

    /// <summary>The destination failed.</summary>
    DestinationFailed,
}
