using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>A custom BIO type whose reads and writes go to a <see cref="DatagramChannel"/>.</summary>
internal static unsafe class DatagramBio
{
    private static readonly Lazy<nint> Method = new(CreateMethod, LazyThreadSafetyMode.ExecutionAndPublication);

    public static BioHandle Create(nint channelHandle)
    {
        OpenSslError.Clear();
        var bio = OpenSslError.CheckHandle(NativeMethods.BIO_new(Method.Value), "BIO_new");
        NativeMethods.BIO_set_data(bio, channelHandle);
        NativeMethods.BIO_set_init(bio.DangerousGetHandle(), 1);
        return bio;
    }

    // The method table lives for the process: BIOs of this type may exist until the last handle is released.
    private static nint CreateMethod()
    {
        OpenSslError.Clear();
        var index = NativeMethods.BIO_get_new_index();
        OpenSslError.ThrowIf(index == -1, "BIO_get_new_index");
        var method = NativeMethods.BIO_meth_new(index | NativeMethods.BioTypeSourceSink, "platform datagram");
        OpenSslError.ThrowIf(method == nint.Zero, "BIO_meth_new");
        OpenSslError.ThrowIf(NativeMethods.BIO_meth_set_write(method, &Write) != 1, "BIO_meth_set_write");
        OpenSslError.ThrowIf(NativeMethods.BIO_meth_set_read(method, &Read) != 1, "BIO_meth_set_read");
        OpenSslError.ThrowIf(NativeMethods.BIO_meth_set_ctrl(method, &Ctrl) != 1, "BIO_meth_set_ctrl");
        return method;
    }

    [UnmanagedCallersOnly]
    private static int Write(nint bio, byte* data, int length)
    {
        NativeMethods.BIO_clear_flags(bio, NativeMethods.BioFlagsRead | NativeMethods.BioFlagsWrite | NativeMethods.BioFlagsIoSpecial | NativeMethods.BioFlagsShouldRetry);
        var channel = DatagramChannel.FromBio(bio);
        if (channel is null || length < 0)
        {
            return -1;
        }

        try
        {
            channel.Write(new ReadOnlySpan<byte>(data, length));
            return length;
        }
        catch (OutOfMemoryException ex)
        {
            channel.CallbackFault = ex;
            return -1;
        }
    }

    [UnmanagedCallersOnly]
    private static int Read(nint bio, byte* data, int length)
    {
        NativeMethods.BIO_clear_flags(bio, NativeMethods.BioFlagsRead | NativeMethods.BioFlagsWrite | NativeMethods.BioFlagsIoSpecial | NativeMethods.BioFlagsShouldRetry);
        var channel = DatagramChannel.FromBio(bio);
        if (channel is null || length < 0)
        {
            return -1;
        }

        var count = channel.Read(new Span<byte>(data, length));
        if (count < 0)
        {
            NativeMethods.BIO_set_flags(bio, NativeMethods.BioFlagsRead | NativeMethods.BioFlagsShouldRetry);
        }

        return count;
    }

    [UnmanagedCallersOnly]
    private static nint Ctrl(nint bio, int command, nint larg, nint parg) =>
        command switch
        {
            NativeMethods.BioCtrlFlush => 1,
            // The link MTU handed to OpenSSL is already the UDP payload size.
            NativeMethods.BioCtrlDgramGetMtuOverhead => 0,
            _ => 0,
        };
}
