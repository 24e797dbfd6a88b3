using System.Net;

namespace Platform.Gateway.Dtls;

/// <summary>Settings of one DTLS listener (one UDP address and port, read by <see cref="ReceiveSockets"/> sockets).</summary>
public sealed class DtlsServerOptions
{
    /// <summary>Address and port to bind; port 0 picks a free one (see <see cref="DtlsServer.LocalEndPoint"/>).</summary>
    public IPEndPoint LocalEndPoint { get; set; } = new(IPAddress.Any, 5684);

    /// <summary>
    /// When set, the listener belongs to this tenant (a dedicated port): every client is served as this tenant, with
    /// the certificate its SNI names or else the first one (the port decides before SNI, as for TLS), and other
    /// tenants' PSK identities are refused.
    /// </summary>
    public string? DedicatedTenantId { get; set; }

    /// <summary>
    /// UDP sockets bound to <see cref="LocalEndPoint"/> with <c>SO_REUSEPORT</c>, each with its own receive loop and
    /// cookie check; the kernel keeps each peer (4-tuple) on one of them, so a peer's datagrams stay in order while
    /// peers spread over the cores. Default: the processor count. More than one needs Linux.
    /// </summary>
    public int ReceiveSockets { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Whether each receive socket is read by a thread of its own blocked in the receive call (one system call per
    /// datagram, no hand-over between threads before the cookie check) rather than by an asynchronous loop on the
    /// thread pool (a readiness notification, a hand-over to a pool thread and a failed non-blocking read per wakeup).
    /// Threads cost one thread per socket even while the port is idle: meant for the busy shared port.
    /// </summary>
    public bool ReceiveThreads { get; set; }

    /// <summary>Largest UDP payload sent, handshake flights and records included.</summary>
    public int Mtu { get; set; } = 1200;

    /// <summary>Largest datagram read from the socket (the seed's MaxPacketSize); longer ones are truncated and fail.</summary>
    public int MaxPacketSize { get; set; } = 16 * 1024 + 512;

    /// <summary>Sessions (handshaking or established) the listener holds at once.</summary>
    public int MaxSessions { get; set; } = 100_000;

    /// <summary>
    /// Handshakes in progress (cookie verified, not complete) from one source at once, across tenants: one IPv4
    /// address, or one IPv6 /64. Beyond it a cookie-verified ClientHello is dropped silently (counted in
    /// <see cref="DtlsServerCounters.Refused"/>).
    /// </summary>
    public int MaxHalfOpenHandshakesPerSource { get; set; } = 16;

    /// <summary>
    /// Handshakes in progress that no tenant has admitted yet, from every source together: from the verified cookie
    /// until admission at the ClientHello (SNI or dedicated port, the session's first step on a worker) or, for a
    /// client known only by its PSK identity, at its key exchange. Beyond it a cookie-verified ClientHello is dropped
    /// silently (counted in <see cref="DtlsServerCounters.UnassignedDropped"/>). It also bounds the handshakes
    /// waiting for a worker, since a session is admitted on its first step.
    /// </summary>
    public int MaxUnassignedHandshakes { get; set; } = 1024;

    /// <summary>
    /// Datagrams one session may have waiting for its worker; beyond it they are dropped (counted in
    /// <see cref="DtlsServerCounters.SessionQueueDropped"/>), as a full socket buffer would drop them.
    /// </summary>
    public int SessionQueueCapacity { get; set; } = 32;

    /// <summary>
    /// Bytes of datagrams one session may have waiting for its worker, whichever of this and
    /// <see cref="SessionQueueCapacity"/> is reached first; at least <see cref="MaxPacketSize"/>.
    /// </summary>
    public int SessionQueueBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Thread-pool work items that run handshake steps (the signed first flight, key exchange, certificate checks) at
    /// once; established sessions' records do not wait for them. Default: the processor count.
    /// </summary>
    public int HandshakeWorkers { get; set; } = Environment.ProcessorCount;

    /// <summary>Longest handshake before the tenant is known (no SNI, PSK identity not yet seen).</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long one cookie secret is used; cookies made under the previous secret are still honoured.</summary>
    public TimeSpan CookieSecretLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Dedicated threads that run BouncyCastle handshakes (its DTLS handshake blocks a thread until it ends); sessions
    /// that need no heartbeat, connection ID or raw public key never use them.
    /// </summary>
    public int BcHandshakeThreads { get; set; } = 8;

    /// <summary>BouncyCastle handshakes in progress or waiting for one of those threads, on the listener.</summary>
    public int BcMaxHandshakes { get; set; } = 64;

    /// <summary>BouncyCastle handshakes in progress from one source (IPv4 address or IPv6 /64).</summary>
    public int BcMaxHandshakesPerSource { get; set; } = 4;

    /// <summary>Longest BouncyCastle handshake (the tenant's handshake timeout applies when shorter).</summary>
    public TimeSpan BcHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Clock for timeouts and cookie rotation.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(LocalEndPoint);
        ArgumentOutOfRangeException.ThrowIfLessThan(Mtu, 576);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Mtu, 16384);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPacketSize, 576);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSessions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHalfOpenHandshakesPerSource, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxUnassignedHandshakes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(SessionQueueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SessionQueueCapacity, 4096);
        ArgumentOutOfRangeException.ThrowIfLessThan(SessionQueueBytes, MaxPacketSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(HandshakeWorkers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveSockets, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ReceiveSockets, 256);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HandshakeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CookieSecretLifetime, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(BcHandshakeThreads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(BcMaxHandshakes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(BcMaxHandshakesPerSource, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(BcHandshakeTimeout, TimeSpan.Zero);
    }
}
