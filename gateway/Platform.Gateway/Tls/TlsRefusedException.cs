using System.Security.Authentication;

namespace Platform.Gateway.Tls;

/// <summary>A handshake refused by tenant selection, with the fatal alert the client is owed; already counted.</summary>
internal sealed class TlsRefusedException(byte alert, string message) : AuthenticationException(message)
{
    /// <summary>The <see cref="TlsAlert"/> description to send.</summary>
    public byte Alert { get; } = alert;
}
