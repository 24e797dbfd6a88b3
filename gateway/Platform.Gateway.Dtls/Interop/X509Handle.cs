using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Owns one reference to an OpenSSL X509; released exactly once with X509_free.</summary>
internal sealed class X509Handle : SafeHandle
{
    public X509Handle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.X509_free(handle);
        return true;
    }
}
