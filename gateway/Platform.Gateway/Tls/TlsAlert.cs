using System.IO.Pipelines;

namespace Platform.Gateway.Tls;

/// <summary>
/// Fatal TLS alerts sent by hand when a handshake is refused before the TLS stack has answered anything
/// (the server-options callback can only throw, which would just drop the connection). RFC 8446 §6.
/// </summary>
internal static class TlsAlert
{
    /// <summary>handshake_failure: no acceptable set of parameters (no SNI, no usable certificate, not admitted).</summary>
    public const byte HandshakeFailure = 40;

    /// <summary>access_denied: the tenant does not accept clients on this listener (its <c>listeners</c> setting).</summary>
    public const byte AccessDenied = 49;

    /// <summary>internal_error: the tenant's certificate material cannot be used.</summary>
    public const byte InternalError = 80;

    /// <summary>unrecognized_name: no tenant serves the SNI name (RFC 6066 §3).</summary>
    public const byte UnrecognizedName = 112;

    /// <summary>The alert record: content type 21, legacy version 3.3, length 2, level fatal (2), description.</summary>
    public static byte[] Record(byte description) => [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description];

    /// <summary>Writes the alert to the raw transport under the TLS stack; a client already gone is ignored.</summary>
    public static async ValueTask TrySendAsync(PipeWriter transport, byte description)
    {
        try
        {
            await transport.WriteAsync(Record(description));
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The client is gone; the refusal stands without the alert.
        }
    }

    /// <inheritdoc cref="TrySendAsync(PipeWriter, byte)"/>
    public static async ValueTask TrySendAsync(Stream transport, byte description)
    {
        try
        {
            await transport.WriteAsync(Record(description));
            await transport.FlushAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client is gone; the refusal stands without the alert.
        }
    }
}
