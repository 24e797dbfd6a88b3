using Platform.Contracts.Problems;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Delivery;

/// <summary>
/// The forward target could not be reached; the client is refused (502 for WebSocket, a close for streams). A target the
/// egress policy forbids throws this too, with <see cref="Refusal"/> <see cref="RefusalReason.BackendForbidden"/>: the
/// client is answered exactly as for an unreachable backend, so a tenant cannot tell a refused address from a closed port.
/// </summary>
internal sealed class BackendUnreachableException(string target, string reason, Exception? inner = null, RefusalReason refusal = RefusalReason.BackendUnreachable)
    : Exception($"Backend {target} unreachable: {reason}", inner)
{
    public string Target { get; } = target;

    public string Reason { get; } = reason;

    /// <summary>How the refusal is counted: <see cref="RefusalReason.BackendUnreachable"/> or <see cref="RefusalReason.BackendForbidden"/>.</summary>
    public RefusalReason Refusal { get; } = refusal;
}
