using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// The connection IDs (RFC 9146) a listener issued, unique on the listener. Tenants choose different lengths (4..16
/// bytes) and a tls12_cid record does not say how long its CID is, so each CID names its own length: the high nibble
/// of its first byte is the length minus 4; the rest is random. A record's CID is then read without knowing its
/// session, and looked up.
/// </summary>
internal sealed class BcConnectionIds
{
    private const int MinLength = 4;
    private const int MaxLength = 16;

    private readonly ConcurrentDictionary<UInt128, DtlsSession> _byId = new();

    public int Count => _byId.Count;

    /// <summary>A fresh CID of <paramref name="length"/> bytes registered for <paramref name="session"/>.</summary>
    public byte[] Allocate(int length, DtlsSession session)
    {
        length = Math.Clamp(length, MinLength, MaxLength);
        var cid = new byte[length];
        while (true)
        {
            RandomNumberGenerator.Fill(cid);
            cid[0] = (byte)(((length - MinLength) << 4) | (cid[0] & 0x0F));
            if (_byId.TryAdd(Key(cid), session))
            {
                return cid;
            }
        }
    }

    public void Release(byte[] cid, DtlsSession session) => _byId.TryRemove(new KeyValuePair<UInt128, DtlsSession>(Key(cid), session));

    /// <summary>
    /// The session whose CID a tls12_cid record (content type 25) carries; false for a record too short to hold the
    /// CID its first byte announces, or a CID no session holds.
    /// </summary>
    public bool TryRoute(ReadOnlySpan<byte> datagram, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DtlsSession? session)
    {
        session = null;
        // type(1) version(2) epoch(2) sequence(6) cid(n) length(2)
        const int CidOffset = 11;
        if (datagram.Length < CidOffset + MinLength + 2)
        {
            return false;
        }

        var length = (datagram[CidOffset] >> 4) + MinLength;
        if (length > MaxLength || datagram.Length < CidOffset + length + 2)
        {
            return false;
        }

        return _byId.TryGetValue(Key(datagram.Slice(CidOffset, length)), out session);
    }

    private static UInt128 Key(ReadOnlySpan<byte> cid)
    {
        Span<byte> padded = stackalloc byte[16];
        padded.Clear();
        cid.CopyTo(padded);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(padded);
    }
}
