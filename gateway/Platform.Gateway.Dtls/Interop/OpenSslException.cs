namespace Platform.Gateway.Dtls.Interop;

/// <summary>An OpenSSL call failed; the message carries OpenSSL's own error strings from its error queue.</summary>
public sealed class OpenSslException : Exception
{
    public OpenSslException()
    {
    }

    public OpenSslException(string message)
        : base(message)
    {
    }

    public OpenSslException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal OpenSslException(string message, ulong errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The first packed OpenSSL error code drained from the queue, 0 when the queue was empty.</summary>
    public ulong ErrorCode { get; }
}
