using Platform.Contracts.Egress;

namespace Platform.Silo;

/// <summary>Silo settings, bound from the <c>Platform</c> configuration section.</summary>
internal sealed class PlatformOptions
{
    public const string Section = "Platform";

    /// <summary>PostgreSQL connection string (the silo is the only holder of it).</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>32-byte base64 AES key encrypting secrets at rest.</summary>
    public string MasterKey { get; set; } = "";

    /// <summary>Operator API key; compared by hash in constant time.</summary>
    public string OperatorKey { get; set; } = "";

    /// <summary>Platform domain: tenants get <c>{slug}.{domain}</c>.</summary>
    public string Domain { get; set; } = "platform.localhost";

    /// <summary>Seconds between gateway heartbeats.</summary>
    public int HeartbeatIntervalSeconds { get; set; } = 5;

    /// <summary>Seconds without a heartbeat before a gateway is declared dead and reaped.</summary>
    public int HeartbeatTimeoutSeconds { get; set; } = 15;

    /// <summary>First port of the dedicated-port range.</summary>
    public int DedicatedPortFirst { get; set; } = 20000;

    /// <summary>Last port of the dedicated-port range.</summary>
    public int DedicatedPortLast { get; set; } = 20999;

    /// <summary>Hours a dedicated port released by one tenant is kept from every other tenant.</summary>
    public int PortCooldownHours { get; set; } = 24;

    /// <summary>How long closed connections stay in the directory.</summary>
    public int ClosedConnectionRetentionMinutes { get; set; } = 60;

    /// <summary>How long per-minute refusal counts are kept.</summary>
    public int RefusalRetentionDays { get; set; } = 7;

    /// <summary>Most DTLS client raw public keys one tenant may hold (<c>Platform:MaxRawPublicKeysPerTenant</c>).</summary>
    public int MaxRawPublicKeysPerTenant { get; set; } = 1000;

    /// <summary>Largest accepted request body in bytes.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The operator's egress ranges (<c>Platform:Egress:AllowedRanges</c> / <c>DeniedRanges</c>): configuration writes whose
    /// forward host or webhook URL is a literal address (or a localhost name) the policy refuses are rejected. Set the same
    /// ranges on every gateway, which checks every resolved address again when it connects.
    /// </summary>
    public EgressOptions Egress { get; set; } = new();

    /// <summary>
    /// URLs of the admin listener (<c>/metrics</c>, <c>/healthz</c>), separated by <c>;</c>: plain <c>http://</c> on an
    /// address the operator's network reaches and tenants do not; port 0 picks a free port.
    /// </summary>
    public string AdminUrls { get; set; } = "http://127.0.0.1:5081";

    /// <summary>The Orleans cluster this silo joins.</summary>
    public Cluster.ClusterSettings Cluster { get; set; } = new();

    /// <summary>The policy compiled from <see cref="Egress"/> by <see cref="Validate"/>.</summary>
    public EgressPolicy EgressPolicy { get; private set; } = EgressPolicy.Default;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new InvalidOperationException("Platform:ConnectionString is required.");
        }

        Security.SecretProtector.DecodeMasterKey(MasterKey);
        if (OperatorKey.Length < 24)
        {
            throw new InvalidOperationException("Platform:OperatorKey must be at least 24 characters.");
        }

        if (HeartbeatIntervalSeconds < 1 || HeartbeatTimeoutSeconds <= HeartbeatIntervalSeconds)
        {
            throw new InvalidOperationException("Platform:HeartbeatTimeoutSeconds must exceed HeartbeatIntervalSeconds, which must be at least 1.");
        }

        if (RefusalRetentionDays < 1)
        {
            throw new InvalidOperationException("Platform:RefusalRetentionDays must be at least 1.");
        }

        if (PortCooldownHours is < 0 or > 8760)
        {
            throw new InvalidOperationException("Platform:PortCooldownHours must be between 0 and 8760.");
        }

        if (MaxRawPublicKeysPerTenant is < 0 or > 1_000_000)
        {
            throw new InvalidOperationException("Platform:MaxRawPublicKeysPerTenant must be between 0 and 1000000.");
        }

        if (DedicatedPortFirst < 1 || DedicatedPortLast > 65535 || DedicatedPortFirst > DedicatedPortLast)
        {
            throw new InvalidOperationException("Platform:DedicatedPortFirst..DedicatedPortLast must be a port range.");
        }

        foreach (var url in (AdminUrls ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).DefaultIfEmpty(""))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/")
            {
                throw new InvalidOperationException($"Platform:AdminUrls: '{url}' is not an http://address:port URL.");
            }
        }

        EgressPolicy = (Egress ?? new EgressOptions()).ToPolicy();
        Cluster ??= new Cluster.ClusterSettings();
        Cluster.Validate();
    }
}
