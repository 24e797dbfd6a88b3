using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Owns one reference to an OpenSSL SSL; released exactly once with SSL_free.</summary>
internal sealed class SslHandle : SafeHandle
{
    public SslHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.SSL_free(handle);
        return true;
    }
}
