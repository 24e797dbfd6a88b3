using Platform.Contracts.Problems;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Connections;

/// <summary>
/// The protocol side of one connection that <see cref="ConnectionPump"/> runs: how the protocol refuses, accepts and
/// reads its client. Sending to the client and closing it are the <see cref="GatewayConnection"/>'s own operations.
/// </summary>
internal interface IPumpedClient : IDisposable
{
    /// <summary>
    /// Fires when the connection has ended or must stop at once (WebSocket: aborted; TCP and TLS: asked to close; DTLS:
    /// the session ended). A WebSocket close handshake in progress does not fire it: the reader sees the client's close.
    /// </summary>
    CancellationToken Ending { get; }

    /// <summary>
    /// Refuses the client before it is registered, with the protocol's signal: an RFC 9457 response before the
    /// WebSocket upgrade (with <paramref name="status"/> and <paramref name="detail"/> when a tenant's webhook chose
    /// them), a closed stream for TCP and TLS, close_notify for DTLS.
    /// </summary>
    ValueTask RefuseAsync(RefusalReason reason, int? status, string? detail, CancellationToken cancellationToken);

    /// <summary>Tells the client it is accepted (the WebSocket 101); the connection is registered already.</summary>
    ValueTask AcceptAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads client messages and hands each to <paramref name="backend"/> until the client ends, recording how it ended.
    /// A fault of the client's transport is thrown (classified by <see cref="TryClassifyReadFault"/>); a failed write to
    /// the backend arrives as <see cref="BackendWriteException"/>.
    /// </summary>
    Task ReadAsync(BackendWriter backend, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="fault"/>, thrown by <see cref="ReadAsync"/>, is the client's doing, and with what code.</summary>
    bool TryClassifyReadFault(Exception fault, out int code, out string reason);
}
