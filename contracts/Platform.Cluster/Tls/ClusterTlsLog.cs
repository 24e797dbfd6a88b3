using Microsoft.Extensions.Logging;

namespace Platform.Cluster.Tls;

internal static partial class ClusterTlsLog
{
    [LoggerMessage(EventId = 7710, Level = LogLevel.Warning,
        Message = "Refused the certificate of a cluster peer on the {Side} side ({Subject}, SHA-256 {Fingerprint}): {Reason}")]
    public static partial void PeerRefused(ILogger logger, string side, string subject, string fingerprint, string reason);
}
