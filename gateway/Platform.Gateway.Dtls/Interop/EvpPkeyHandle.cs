using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>Owns one reference to an OpenSSL EVP_PKEY; released exactly once with EVP_PKEY_free.</summary>
internal sealed class EvpPkeyHandle : SafeHandle
{
    public EvpPkeyHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.EVP_PKEY_free(handle);
        return true;
    }
}
