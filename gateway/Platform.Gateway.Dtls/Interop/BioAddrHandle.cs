using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Owns one reference to an OpenSSL BIO_ADDR; released exactly once with BIO_ADDR_free.</summary>
internal sealed class BioAddrHandle : SafeHandle
{
    public BioAddrHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.BIO_ADDR_free(handle);
        return true;
    }
}
