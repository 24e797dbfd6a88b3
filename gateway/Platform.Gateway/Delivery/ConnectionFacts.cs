using System.Net;
using Platform.Contracts.Connections;

namespace Platform.Gateway.Delivery;

/// <summary>
/// What a delivery knows of the client connection it serves, filled by the protocol front ends before the delivery
/// starts; a forward backend with <c>proxyProtocol: v2</c> receives it as a PROXY protocol header.
/// </summary>
/// <param name="ConnectionId">The connection's id in the directory.</param>
/// <param name="Listener">The listener kind the client arrived on (<see cref="ConnectionProtocols"/>: ws, wss, tls, tcp, dtls).</param>
/// <param name="Client">The client's address and port.</param>
/// <param name="Local">The gateway's address and port the client reached.</param>
/// <param name="Authority">The name the client asked for: the TLS server name, or the WebSocket Host header (a port in it is dropped).</param>
/// <param name="Tls">The TLS or DTLS facts, null for ws and tcp.</param>
/// <param name="Request">For WebSocket, the upgrade request as a webhook connect event describes it; null otherwise.</param>
internal sealed record ConnectionFacts(string ConnectionId, string Listener, IPEndPoint Client, IPEndPoint Local, string? Authority, TlsFacts? Tls, WebSocketRequestFacts? Request = null);

/// <summary>The WebSocket upgrade request of a connection, as its webhook connect event carries it.</summary>
/// <param name="Path">Request path.</param>
/// <param name="Query">Query string without <c>?</c>, or null.</param>
/// <param name="Host">Host header.</param>
/// <param name="Origin">Origin header, or null.</param>
/// <param name="SubProtocols">The sub-protocols the client offered, in its order.</param>
/// <param name="Headers">Every header line, in order.</param>
internal sealed record WebSocketRequestFacts(
    string Path, string? Query, string Host, string? Origin, IReadOnlyList<string> SubProtocols, IReadOnlyList<KeyValuePair<string, string>> Headers);
