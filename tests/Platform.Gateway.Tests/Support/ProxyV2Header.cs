using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A PROXY protocol version 2 header as a receiver reads it, parsed strictly after haproxy's proxy-protocol.txt
/// (section 2.2): signature, version 2, command, family and transport, address block, then TLVs that must exactly fill
/// the announced length. Written from the specification, independent of the gateway's writer.
/// </summary>
internal sealed record ProxyV2Header(int Command, int Family, int Transport, IPEndPoint Source, IPEndPoint Destination, IReadOnlyList<(byte Type, byte[] Value)> Tlvs)
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>The value of the one TLV of <paramref name="type"/> as UTF-8, null when absent; two of a type fail.</summary>
    public string? Text(byte type) => Tlvs.SingleOrDefault(t => t.Type == type) is { Value: { } value } ? Encoding.UTF8.GetString(value) : null;

    /// <summary>The PP2_TYPE_SSL TLV (0x20), null when absent.</summary>
    public ProxyV2Ssl? Ssl => Tlvs.SingleOrDefault(t => t.Type == 0x20) is { Value: { } value } ? ProxyV2Ssl.Parse(value) : null;

    /// <summary>Reads exactly one header from <paramref name="stream"/> (nothing after it).</summary>
    public static async Task<ProxyV2Header> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var fixedPart = new byte[16];
        await stream.ReadExactlyAsync(fixedPart, cancellationToken);
        var length = BinaryPrimitives.ReadUInt16BigEndian(fixedPart.AsSpan(14));
        var whole = new byte[16 + length];
        fixedPart.CopyTo(whole, 0);
        await stream.ReadExactlyAsync(whole.AsMemory(16), cancellationToken);
        return Parse(whole);
    }

    public static ProxyV2Header Parse(ReadOnlySpan<byte> header)
    {
        if (header.Length < 16 || !header[..12].SequenceEqual(Signature))
        {
            throw new InvalidDataException("No PROXY v2 signature.");
        }

        if (header[12] >> 4 != 2)
        {
            throw new InvalidDataException($"Version {header[12] >> 4}, not 2.");
        }

        var command = header[12] & 0x0F;
        var family = header[13] >> 4;
        var transport = header[13] & 0x0F;
        if (command > 1 || family > 3 || transport > 2)
        {
            throw new InvalidDataException($"Unassigned command, family or transport: 0x{header[12]:x2} 0x{header[13]:x2}.");
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(header[14..]);
        if (header.Length != 16 + length)
        {
            throw new InvalidDataException($"The header announces {length} bytes after the fixed part but has {header.Length - 16}.");
        }

        var body = header[16..];
        var addressLength = family switch { 1 => 4, 2 => 16, _ => throw new InvalidDataException($"Family {family} is not an IP family.") };
        if (body.Length < (2 * addressLength) + 4)
        {
            throw new InvalidDataException("The address block is cut short.");
        }

        var source = new IPEndPoint(new IPAddress(body[..addressLength]), BinaryPrimitives.ReadUInt16BigEndian(body[(2 * addressLength)..]));
        var destination = new IPEndPoint(new IPAddress(body[addressLength..(2 * addressLength)]), BinaryPrimitives.ReadUInt16BigEndian(body[((2 * addressLength) + 2)..]));
        return new ProxyV2Header(command, family, transport, source, destination, ParseTlvs(body[((2 * addressLength) + 4)..]));
    }

    /// <summary>Type-length-value vectors that exactly fill <paramref name="data"/>.</summary>
    public static List<(byte Type, byte[] Value)> ParseTlvs(ReadOnlySpan<byte> data)
    {
        var tlvs = new List<(byte, byte[])>();
        while (!data.IsEmpty)
        {
            if (data.Length < 3)
            {
                throw new InvalidDataException("A TLV header is cut short.");
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(data[1..]);
            if (data.Length < 3 + length)
            {
                throw new InvalidDataException($"TLV 0x{data[0]:x2} announces {length} bytes but only {data.Length - 3} follow.");
            }

            tlvs.Add((data[0], data.Slice(3, length).ToArray()));
            data = data[(3 + length)..];
        }

        return tlvs;
    }
}

/// <summary>The value of PP2_TYPE_SSL: client flags, verify result and sub-TLVs.</summary>
internal sealed record ProxyV2Ssl(byte Client, uint Verify, IReadOnlyList<(byte Type, byte[] Value)> SubTlvs)
{
    public string? Text(byte type) => SubTlvs.SingleOrDefault(t => t.Type == type) is { Value: { } value } ? Encoding.ASCII.GetString(value) : null;

    public static ProxyV2Ssl Parse(byte[] value)
    {
        if (value.Length < 5)
        {
            throw new InvalidDataException("PP2_TYPE_SSL shorter than its client and verify fields.");
        }

        return new ProxyV2Ssl(value[0], BinaryPrimitives.ReadUInt32BigEndian(value.AsSpan(1)), ProxyV2Header.ParseTlvs(value.AsSpan(5)));
    }
}
