namespace Platform.Gateway.Dtls;

/// <summary>Answer of <see cref="IDtlsSessionHandler.Admit"/>.</summary>
public enum DtlsAdmission
{
    /// <summary>Continue the handshake.</summary>
    Accept,

    /// <summary>End the handshake with an access_denied alert.</summary>
    Refuse,
}
