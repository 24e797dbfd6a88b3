namespace Platform.Gateway.Dtls;

/// <summary>Outcome of <see cref="DtlsSession.Send"/>.</summary>
public enum DtlsSendResult
{
    /// <summary>Encrypted and handed to the socket as one datagram.</summary>
    Sent,

    /// <summary>The handshake has not completed yet.</summary>
    NotEstablished,

    /// <summary>The session has ended.</summary>
    Closed,

    /// <summary>Larger than <see cref="DtlsSession.MaxDatagramSize"/>: one record must fit the MTU.</summary>
    TooLarge,
}
