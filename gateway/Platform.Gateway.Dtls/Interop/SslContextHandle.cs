using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Owns one reference to an OpenSSL SSL_CTX; released exactly once with SSL_CTX_free.</summary>
internal sealed class SslContextHandle : SafeHandle
{
    public SslContextHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.SSL_CTX_free(handle);
        return true;
    }
}
