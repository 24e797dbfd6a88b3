using System.ComponentModel.DataAnnotations;
using System.Net;
using Platform.Contracts.Egress;
using Platform.Gateway.Admission;
using Platform.Gateway.ProxyProtocol;

namespace Platform.Gateway.Hosting;

/// <summary>Settings of one gateway process, bound from the <c>Platform</c> configuration section.</summary>
public sealed class GatewayOptions : IValidatableObject
{
    public const string Section = "Platform";

    /// <summary>The silos' Orleans gateway endpoints (<c>address:port</c>) the cluster client connects to; empty: <see cref="DefaultSiloEndpoint"/>.</summary>
    public List<string> SiloEndpoints { get; } = [];

    /// <summary>Used when <see cref="SiloEndpoints"/> is empty: one silo on this machine with the silo's default gateway port.</summary>
    public const string DefaultSiloEndpoint = "127.0.0.1:30000";

    /// <summary>The Orleans cluster id: the silos' <c>Platform:Cluster:ClusterId</c>.</summary>
    [Required]
    [MaxLength(100)]
    public string ClusterId { get; set; } = "platform";

    /// <summary>
    /// Base64 of the 32-byte key the fail-static snapshot is sealed with (it holds tenants' private keys and PSKs).
    /// A file in the secrets directory; never logged.
    /// </summary>
    [Required]
    public string SnapshotKey { get; set; } = "";

    /// <summary>Prefix of the node id; a random suffix is added per process.</summary>
    public string NodeName { get; set; } = "gw";

    /// <summary>Platform domain: <c>{slug}.{PlatformDomain}</c> routes to a tenant.</summary>
    public string PlatformDomain { get; set; } = "platform.localhost";

    /// <summary>Address the public listeners bind to.</summary>
    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>Plain WebSocket port; -1 disables it, 0 picks a free port.</summary>
    [Range(-1, 65535)]
    public int WsPort { get; set; } = 8080;

    /// <summary>WebSocket over TLS port (certificate chosen by SNI).</summary>
    [Range(-1, 65535)]
    public int WssPort { get; set; } = 8443;

    /// <summary>Raw TLS port routed by SNI.</summary>
    [Range(-1, 65535)]
    public int TlsPort { get; set; } = 7443;

    /// <summary>DTLS port routed by SNI and PSK identity (UDP); -1 disables it, 0 picks a free port.</summary>
    [Range(-1, 65535)]
    public int DtlsPort { get; set; } = 5684;

    /// <summary>Largest UDP payload a DTLS listener sends (handshake flights and records).</summary>
    [Range(576, 16384)]
    public int DtlsMtu { get; set; } = 1200;

    /// <summary>
    /// DTLS handshakes in progress (cookie verified, not complete) from one source on one DTLS listener, across tenants:
    /// an IPv4 address or an IPv6 /64.
    /// </summary>
    [Range(1, 100_000)]
    public int DtlsMaxHalfOpenHandshakesPerSource { get; set; } = 16;

    /// <summary>DTLS handshakes in progress on one DTLS listener that no tenant has admitted yet, from every source together.</summary>
    [Range(1, 1_000_000)]
    public int DtlsMaxUnassignedHandshakes { get; set; } = 1024;

    /// <summary>DTLS handshake steps run at once per DTLS listener; 0 means one per processor.</summary>
    [Range(0, 1024)]
    public int DtlsHandshakeWorkers { get; set; }

    /// <summary>
    /// UDP sockets per DTLS listener, bound to the same port with SO_REUSEPORT, each with its own receive loop; 0 means
    /// one per processor.
    /// </summary>
    [Range(0, 256)]
    public int DtlsReceiveSockets { get; set; }

    /// <summary>
    /// Whether the shared DTLS port's receive sockets are each read by a thread of their own blocked in the receive
    /// call (fewer system calls and thread hand-overs per datagram) instead of an asynchronous loop on the thread
    /// pool. Dedicated DTLS ports always use the pool.
    /// </summary>
    public bool DtlsReceiveThreads { get; set; } = true;

    /// <summary>Address of the admin listener (health, metrics): nothing tenants or the public reach.</summary>
    public string AdminAddress { get; set; } = "127.0.0.1";

    /// <summary>Port of the admin listener; 0 picks a free port.</summary>
    [Range(0, 65535)]
    public int AdminPort { get; set; } = 5090;

    /// <summary>
    /// Longest any TLS handshake may take on this gateway, from the first byte awaited to the last: the
    /// ceiling over every tenant's own handshake timeout, and the only limit before a ClientHello names a tenant.
    /// </summary>
    [Range(1, 300)]
    public int TlsHandshakeTimeoutSeconds { get; set; } = 20;

    /// <summary>
    /// TLS handshakes on the shared TLS and wss ports whose ClientHello has not named a tenant yet, at once, over all
    /// clients; a connection beyond it is refused (<c>half_open_limit</c>) at accept. Once a tenant is named its own
    /// <c>limits.maxHalfOpenHandshakes</c> applies instead.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxPendingTlsHandshakes { get; set; } = 4096;

    /// <summary>As <see cref="MaxPendingTlsHandshakes"/>, from one client prefix (an IPv4 address or an IPv6 /64).</summary>
    [Range(1, 100_000)]
    public int MaxPendingTlsHandshakesPerClient { get; set; } = 64;

    /// <summary>Lowest dedicated tenant port this gateway opens.</summary>
    [Range(1, 65535)]
    public int DedicatedPortMin { get; set; } = 20000;

    /// <summary>Highest dedicated tenant port this gateway opens.</summary>
    [Range(1, 65535)]
    public int DedicatedPortMax { get; set; } = 20999;

    /// <summary>Directory of the fail-static snapshot.</summary>
    public string StateDirectory { get; set; } = "state";

    /// <summary>MaxConnections slots asked for at a time per tenant.</summary>
    [Range(1, 10_000)]
    public int LeaseBatch { get; set; } = 16;

    /// <summary>
    /// MaxConnections slots the gateway keeps of a tenant with no connection open here and none arriving, 0..10000: its
    /// first connection is admitted without a lease round trip, and the rest of the tenant's slots stay free for the
    /// gateways its connections reach. Other gateways short of slots reclaim idle ones, at the cost of a few round trips.
    /// </summary>
    [Range(0, 10_000)]
    public int LeaseIdleSlots { get; set; } = 1;

    /// <summary>Milliseconds between lease syncs when nothing asks for one earlier.</summary>
    [Range(50, 60_000)]
    public int LeaseSyncMilliseconds { get; set; } = 2000;

    /// <summary>
    /// How long a new connection may wait for a lease round trip in flight when a burst used up the
    /// gateway's free MaxConnections slots, 0..5000 ms.
    /// </summary>
    [Range(0, 5000)]
    public int LeaseWaitMilliseconds { get; set; } = 2000;

    /// <summary>Seconds a config watch long poll waits at the silo.</summary>
    [Range(0, 60)]
    public int ConfigWaitSeconds { get; set; } = 30;

    /// <summary>Connection events buffered for the silo before new ones are dropped (with an error log).</summary>
    [Range(16, 1_000_000)]
    public int EventQueueCapacity { get; set; } = 65_536;

    /// <summary>Most events in one batch.</summary>
    [Range(1, 10_000)]
    public int EventBatchSize { get; set; } = 500;

    /// <summary>Milliseconds between event batches while no event comes (the counter reports ride on them).</summary>
    [Range(10, 60_000)]
    public int EventFlushMilliseconds { get; set; } = 1000;

    /// <summary>
    /// Milliseconds the first event of a batch waits for more before the batch goes (unless it fills first): under a
    /// burst of connections one call to the silo carries many events. 0 sends each batch as soon as it has an event.
    /// </summary>
    [Range(0, 1000)]
    public int EventLingerMilliseconds { get; set; } = 50;

    /// <summary>Seconds between counter reports of open connections.</summary>
    [Range(1, 3600)]
    public int CounterReportSeconds { get; set; } = 10;

    /// <summary>
    /// Seconds a client on the ws and wss ports may take to send a complete request head, counted from
    /// the connection's start (a connection that never speaks is closed after this long too).
    /// </summary>
    [Range(1, 300)]
    public int RequestHeadersTimeoutSeconds { get; set; } = 20;

    /// <summary>
    /// Seconds one send to a client may stay pending (the client stopped reading) before the connection
    /// is aborted; 0 waits indefinitely. Backpressure keeps memory bounded meanwhile.
    /// </summary>
    [Range(0, 3600)]
    public int ClientSendTimeoutSeconds { get; set; } = 60;

    /// <summary>
    /// Seconds between checks of the native heap's free bytes (glibc's mallinfo2; Linux with glibc only); 0 turns the
    /// trimming off. See <see cref="HeapTrim"/>.
    /// </summary>
    [Range(0, 3600)]
    public int NativeHeapTrimCheckSeconds { get; set; } = 30;

    /// <summary>Free bytes in glibc's arenas, in MiB, from which a check hands the free pages back (malloc_trim).</summary>
    [Range(1, 65536)]
    public int NativeHeapTrimMinFreeMiB { get; set; } = 16;

    /// <summary>
    /// Least seconds between two trims, however much is free (a trim takes about a millisecond or two; one in the
    /// middle of a burst of handshakes gives back pages the burst takes again, so the next one comes soon after).
    /// </summary>
    [Range(10, 86400)]
    public int NativeHeapTrimMinIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// Growth of the managed heap's committed memory, in MiB, over the least it was since the last compacting collection
    /// (or since start),
    /// from which a check that finds the heap no longer growing runs one compacting, decommitting collection
    /// (<c>GCCollectionMode.Aggressive</c>); 0 turns it off. See <see cref="HeapTrim"/>.
    /// </summary>
    [Range(0, 65536)]
    public int ManagedHeapTrimMinGrowthMiB { get; set; } = 64;

    /// <summary>
    /// Least seconds between two compacting collections of the managed heap trim (each pauses the gateway's managed
    /// threads for the length of a full compacting collection: tens of milliseconds per 100 MiB of live heap).
    /// </summary>
    [Range(60, 86400)]
    public int ManagedHeapTrimMinIntervalSeconds { get; set; } = 1800;

    /// <summary>
    /// DNS servers for the reverse lookups of access lists with host-name entries, each an IP address with an
    /// optional port (<c>127.0.0.1:5353</c>, <c>[::1]:53</c>); empty uses the system's servers.
    /// </summary>
    [DnsServerList]
    public List<string> DnsServers { get; } = [];

    /// <summary>
    /// Milliseconds one DNS query of a reverse lookup waits for its answer (asked twice per server); one
    /// address's whole lookup, PTR and forward queries together, ends after three times this.
    /// </summary>
    [Range(100, 10_000)]
    public int ReverseDnsTimeoutMilliseconds { get; set; } = 1000;

    /// <summary>Reverse lookups one tenant's connections may have running at once.</summary>
    [Range(1, 10_000)]
    public int ReverseDnsLookupsInFlightPerTenant { get; set; } = 8;

    /// <summary>Reverse lookups one tenant's connections may start per second (burst of one second).</summary>
    [Range(1, 10_000)]
    public int ReverseDnsLookupsPerSecondPerTenant { get; set; } = 20;

    /// <summary>Reverse lookups the whole gateway may have running at once.</summary>
    [Range(1, 100_000)]
    public int ReverseDnsLookupsInFlight { get; set; } = 64;

    /// <summary>Reverse lookups the whole gateway may start per second (burst of one second).</summary>
    [Range(1, 100_000)]
    public int ReverseDnsLookupsPerSecond { get; set; } = 200;

    /// <summary>Client addresses whose reverse-DNS answer the gateway keeps.</summary>
    [Range(16, 1_000_000)]
    public int ReverseDnsCacheEntries { get; set; } = 10_000;

    /// <summary>
    /// The operator's egress ranges (<c>Platform:Egress:AllowedRanges</c> / <c>DeniedRanges</c>, the same as the silo's):
    /// every address a forward target resolves to is checked against them before the gateway connects.
    /// </summary>
    public EgressOptions Egress { get; set; } = new();

    /// <summary>
    /// PROXY protocol per listener (<c>Platform:ProxyProtocol:{Ws,Wss,Tls,Dedicated}:{Mode,TrustedNetworks}</c>,
    /// <c>HeaderTimeoutSeconds</c>): listeners behind a load balancer take the client's address from its header.
    /// </summary>
    public ProxyProtocolOptions ProxyProtocol { get; set; } = new();

    /// <summary>The silo endpoints to connect to, parsed; <see cref="Validate"/> has checked them.</summary>
    public IReadOnlyList<IPEndPoint> ParsedSiloEndpoints() =>
        [.. (SiloEndpoints.Count == 0 ? [DefaultSiloEndpoint] : SiloEndpoints).Select(static e => IPEndPoint.Parse(e))];

    /// <summary>The snapshot key's bytes; <see cref="Validate"/> has checked it.</summary>
    public byte[] SnapshotKeyBytes() => Convert.FromBase64String(SnapshotKey.Trim());

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var error in (Egress ?? new EgressOptions()).Validate())
        {
            yield return new ValidationResult(error, [nameof(Egress)]);
        }

        foreach (var error in (ProxyProtocol ?? new ProxyProtocolOptions()).Validate())
        {
            yield return new ValidationResult(error, [nameof(ProxyProtocol)]);
        }

        foreach (var endpoint in SiloEndpoints)
        {
            if (!IPEndPoint.TryParse(endpoint ?? "", out var parsed) || parsed.Port == 0)
            {
                yield return new ValidationResult(
                    $"The SiloEndpoints entry '{endpoint}' is not an IP address with a port (127.0.0.1:30000, [::1]:30000).", [nameof(SiloEndpoints)]);
            }
        }

        if (!IPAddress.TryParse(AdminAddress, out _))
        {
            yield return new ValidationResult("The AdminAddress is not an IP address.", [nameof(AdminAddress)]);
        }

        // Only the length is said: the value is a secret.
        if (!string.IsNullOrEmpty(SnapshotKey) && !IsKey(SnapshotKey))
        {
            yield return new ValidationResult("The SnapshotKey must be base64 of exactly 32 bytes.", [nameof(SnapshotKey)]);
        }
    }

    private static bool IsKey(string value)
    {
        Span<byte> bytes = stackalloc byte[33];
        return Convert.TryFromBase64String(value.Trim(), bytes, out var written) && written == 32;
    }
}
