namespace Platform.Gateway.Dtls.Interop;

/// <summary>What OpenSSL's callbacks reach through the <see cref="DatagramChannel"/> of the SSL object they run for.</summary>
internal interface ISslCallbackTarget
{
    int GenerateCookie(Span<byte> cookie);

    bool VerifyCookie(ReadOnlySpan<byte> cookie);

    /// <summary>Returns an SSL_TLSEXT_ERR_* value; <paramref name="alert"/> is sent when fatal.</summary>
    int OnServerName(nint ssl, string? hostName, out int alert);

    /// <summary>Writes the key for <paramref name="identity"/> and returns its length; 0 refuses the identity.</summary>
    int OnPskIdentity(string identity, Span<byte> key);
}
