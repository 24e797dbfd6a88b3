using Platform.Contracts.Config;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// The tenant's webhook's answer to a connect event, checked: accept (optionally with a sub-protocol the client offered,
/// a forward target that replaces the tenant's, and metadata that later events carry) or reject with a status and reason.
/// <see cref="Failure"/> is set when there was no usable answer; then the tenant's <c>connectDefault</c> decides.
/// </summary>
internal sealed record ConnectDecision(
    bool Accept,
    int Status,
    string? Reason,
    string? SubProtocol,
    ForwardConfig? Forward,
    IReadOnlyDictionary<string, string> Metadata,
    string? Failure)
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    public static ConnectDecision Accepted(string? subProtocol = null, ForwardConfig? forward = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        new(true, 0, null, subProtocol, forward, metadata ?? NoMetadata, null);

    public static ConnectDecision Rejected(int status, string? reason) => new(false, status, reason, null, null, NoMetadata, null);

    public static ConnectDecision Unusable(string failure) => new(false, 0, null, null, null, NoMetadata, failure);
}
