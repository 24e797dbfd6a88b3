using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Interop;

/// <summary>
/// The managed end of one <see cref="DatagramBio"/>: OpenSSL reads at most one pending inbound datagram and each
/// record it writes is queued whole, so datagram boundaries survive (a memory BIO would merge them).
/// </summary>
internal sealed class DatagramChannel : IDisposable
{
    private readonly List<byte[]> _outbound = [];
    private GCHandle _self;
    private byte[]? _inbound;
    private int _inboundLength;

    public DatagramChannel()
    {
        _self = GCHandle.Alloc(this, GCHandleType.Normal);
        Bio = DatagramBio.Create(GCHandle.ToIntPtr(_self));
    }

    /// <summary>The BIO bound to this channel; an SSL object attached through <see cref="AttachTo"/> holds its own reference.</summary>
    public BioHandle Bio { get; }

    /// <summary>Whatever the owner needs to find from an OpenSSL callback (the server's listener or a session).</summary>
    public object? Owner { get; set; }

    /// <summary>The last exception thrown inside a BIO callback (they cannot propagate through OpenSSL).</summary>
    public Exception? CallbackFault { get; set; }

    public int OutboundCount => _outbound.Count;

    /// <summary>The records OpenSSL wrote since the last <see cref="TakeDatagrams"/>, each as written.</summary>
    public IReadOnlyList<byte[]> Outbound => _outbound;

    public static DatagramChannel? FromSsl(nint ssl)
    {
        var bio = NativeMethods.SSL_get_rbio(ssl);
        return bio == nint.Zero ? null : FromBio(bio);
    }

    public static DatagramChannel? FromBio(nint bio)
    {
        var data = NativeMethods.BIO_get_data(bio);
        return data == nint.Zero ? null : GCHandle.FromIntPtr(data).Target as DatagramChannel;
    }

    public void AttachTo(SslHandle ssl)
    {
        // SSL_set_bio with rbio == wbio consumes one reference: give it one of its own.
        OpenSslError.ThrowIf(NativeMethods.BIO_up_ref(Bio) != 1, "BIO_up_ref");
        var bio = Bio.DangerousGetHandle();
        NativeMethods.SSL_set_bio(ssl, bio, bio);
    }

    /// <summary>Offers one datagram to the next BIO read. The buffer is borrowed until <see cref="ClearInbound"/>.</summary>
    public void SetInbound(byte[] buffer, int length)
    {
        _inbound = buffer;
        _inboundLength = length;
    }

    public void ClearInbound()
    {
        _inbound = null;
        _inboundLength = 0;
    }

    public bool HasInbound => _inbound is not null;

    internal int Read(Span<byte> destination)
    {
        if (_inbound is null)
        {
            return -1;
        }

        // As recvfrom does, a datagram larger than the reader's buffer is truncated.
        var count = Math.Min(destination.Length, _inboundLength);
        _inbound.AsSpan(0, count).CopyTo(destination);
        ClearInbound();
        return count;
    }

    internal void Write(ReadOnlySpan<byte> record) => _outbound.Add(record.ToArray());

    /// <summary>
    /// Moves queued records into datagrams of at most <paramref name="mtu"/> bytes, several small records per
    /// datagram where they fit (RFC 6347 4.1.1 allows it), and clears the queue.
    /// </summary>
    public void TakeDatagrams(int mtu, List<byte[]> into)
    {
        var i = 0;
        while (i < _outbound.Count)
        {
            var length = _outbound[i].Length;
            var j = i + 1;
            while (j < _outbound.Count && length + _outbound[j].Length <= mtu)
            {
                length += _outbound[j].Length;
                j++;
            }

            if (j == i + 1)
            {
                into.Add(_outbound[i]);
            }
            else
            {
                var datagram = new byte[length];
                var offset = 0;
                for (var k = i; k < j; k++)
                {
                    _outbound[k].CopyTo(datagram, offset);
                    offset += _outbound[k].Length;
                }

                into.Add(datagram);
            }

            i = j;
        }

        _outbound.Clear();
    }

    public void DiscardOutbound() => _outbound.Clear();

    /// <summary>Call only after every SSL object using the BIO is freed: callbacks resolve the channel through the handle.</summary>
    public void Dispose()
    {
        if (_self.IsAllocated)
        {
            // An SSL object still holding the BIO then finds no channel instead of a freed handle.
            NativeMethods.BIO_set_data(Bio, nint.Zero);
            Bio.Dispose();
            _self.Free();
        }
    }
}
