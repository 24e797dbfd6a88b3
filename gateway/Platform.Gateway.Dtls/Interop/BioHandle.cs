using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>
/// Owns one reference to an OpenSSL BIO. A BIO handed to an SSL object is up-referenced first, so the SSL
/// and this handle each release their own reference in whatever order they are disposed.
/// </summary>
internal sealed class BioHandle : SafeHandle
{
    public BioHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        return NativeMethods.BIO_free(handle) == 1;
    }
}
