using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>
/// OpenSSL callbacks. Each finds its <see cref="ISslCallbackTarget"/> through the SSL object's BIO. Exceptions cannot
/// cross into OpenSSL: a failing callback refuses the handshake and leaves the exception on the channel.
/// </summary>
internal static unsafe class SslCallbacks
{
    public const int AlertInternalError = 80;

    public static delegate* unmanaged<nint, byte*, uint*, int> GenerateCookiePointer => &GenerateCookie;

    public static delegate* unmanaged<nint, byte*, uint, int> VerifyCookiePointer => &VerifyCookie;

    public static delegate* unmanaged<nint, byte*, byte*, uint, uint> PskPointer => &Psk;

    public static nint ServerNamePointer => (nint)(delegate* unmanaged<nint, int*, nint, int>)&ServerName;

    [UnmanagedCallersOnly]
    private static int GenerateCookie(nint ssl, byte* cookie, uint* length)
    {
        var channel = DatagramChannel.FromSsl(ssl);
        if (channel?.Owner is not ISslCallbackTarget target)
        {
            return 0;
        }

        try
        {
            // DTLS1_COOKIE_LENGTH: OpenSSL hands a 255-byte buffer.
            var written = target.GenerateCookie(new Span<byte>(cookie, 255));
            *length = (uint)written;
            return written > 0 ? 1 : 0;
        }
        catch (Exception ex)
        {
            channel.CallbackFault = ex;
            return 0;
        }
    }

    [UnmanagedCallersOnly]
    private static int VerifyCookie(nint ssl, byte* cookie, uint length)
    {
        var channel = DatagramChannel.FromSsl(ssl);
        if (channel?.Owner is not ISslCallbackTarget target || length > 255)
        {
            return 0;
        }

        try
        {
            return target.VerifyCookie(new ReadOnlySpan<byte>(cookie, (int)length)) ? 1 : 0;
        }
        catch (Exception ex)
        {
            channel.CallbackFault = ex;
            return 0;
        }
    }

    [UnmanagedCallersOnly]
    private static int ServerName(nint ssl, int* alert, nint arg)
    {
        var channel = DatagramChannel.FromSsl(ssl);
        if (channel?.Owner is not ISslCallbackTarget target)
        {
            *alert = AlertInternalError;
            return NativeMethods.TlsextErrAlertFatal;
        }

        try
        {
            var name = NativeMethods.SSL_get_servername(ssl, 0);
            var result = target.OnServerName(ssl, name == nint.Zero ? null : Marshal.PtrToStringUTF8(name), out var chosen);
            *alert = chosen;
            return result;
        }
        catch (Exception ex)
        {
            channel.CallbackFault = ex;
            *alert = AlertInternalError;
            return NativeMethods.TlsextErrAlertFatal;
        }
    }

    [UnmanagedCallersOnly]
    private static uint Psk(nint ssl, byte* identity, byte* key, uint maxKeyLength)
    {
        var channel = DatagramChannel.FromSsl(ssl);
        if (channel?.Owner is not ISslCallbackTarget target || identity == null)
        {
            return 0;
        }

        try
        {
            var name = Marshal.PtrToStringUTF8((nint)identity) ?? "";
            return (uint)Math.Max(0, target.OnPskIdentity(name, new Span<byte>(key, (int)maxKeyLength)));
        }
        catch (Exception ex)
        {
            channel.CallbackFault = ex;
            return 0;
        }
    }
}
