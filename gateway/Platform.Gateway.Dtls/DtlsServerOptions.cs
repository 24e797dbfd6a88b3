using System.Net;

namespace Platform.Gateway.Dtls;

/// <summary>Settings of one DTLS listener (one UDP socket).</summary>
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

    /// <summary>Largest UDP payload sent, handshake flights and records included.</summary>
    public int Mtu { get; set; } = 1200;

    /// <summary>Largest datagram read from the socket (the seed's MaxPacketSize); longer ones are truncated and fail.</summary>
    public int MaxPacketSize { get; set; } = 16 * 1024 + 512;

    /// <summary>Sessions (handshaking or established) the listener holds at once.</summary>
    public int MaxSessions { get; set; } = 100_000;

    /// <summary>Handshakes in progress from one source address at once, across tenants.</summary>
    public int MaxHalfOpenHandshakesPerSource { get; set; } = 16;

    /// <summary>Longest handshake before the tenant is known (no SNI, PSK identity not yet seen).</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long one cookie secret is used; cookies made under the previous secret are still honoured.</summary>
    public TimeSpan CookieSecretLifetime { get; set; } = TimeSpan.FromMinutes(5);

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
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HandshakeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CookieSecretLifetime, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }
}
