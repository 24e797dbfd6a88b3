namespace Platform.Contracts.Problems;

/// <summary>Stable codes of the warnings a successful write may carry (a setting that is valid but weakens a policy).</summary>
public static class WarningCodes
{
    /// <summary>A plain listener (ws, tcp) is listed while client certificates are required.</summary>
    public const string PlainListenerWithClientCertificates = "plain_listener_with_client_certificates";
}
