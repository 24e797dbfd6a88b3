using System.Buffers.Binary;
using System.Net;
using System.Text;
using Platform.Gateway.ProxyProtocol;

namespace Platform.Gateway.Tests.ProxyProtocol;

public sealed class ProxyHeaderParserTests
{
    [Fact]
    public void TryParse_V1Tcp4WithFollowingBytes_ClientAndLengthOfTheLineOnly()
    {
        var line = "PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n";
        var status = ProxyHeaderParser.TryParse(Encoding.ASCII.GetBytes(line + "GET / HTTP/1.1\r\n"), out var header);

        Assert.Equal(ProxyHeaderStatus.Complete, status);
        Assert.Equal(1, header!.Version);
        Assert.Equal(line.Length, header.Length);
        Assert.Equal(IPEndPoint.Parse("192.0.2.7:51234"), header.Source);
        Assert.Equal(IPEndPoint.Parse("198.51.100.1:443"), header.Destination);
    }

    [Fact]
    public void TryParse_V1Tcp6_Ipv6Client()
    {
        var status = ProxyHeaderParser.TryParse("PROXY TCP6 2001:db8::7 2001:db8::1 65535 8443\r\n"u8, out var header);

        Assert.Equal(ProxyHeaderStatus.Complete, status);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:65535"), header!.Source);
    }

    [Fact]
    public void TryParse_V1Unknown_CompleteWithoutAddresses()
    {
        var status = ProxyHeaderParser.TryParse("PROXY UNKNOWN ffff::1 whatever\r\nrest"u8, out var header);

        Assert.Equal(ProxyHeaderStatus.Complete, status);
        Assert.Null(header!.Source);
        Assert.Equal(32, header.Length);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 51234\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443 7\r\n")]
    [InlineData("PROXY TCP4  192.0.2.7 198.51.100.1 51234 443\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 51234 65536\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 051234 443\r\n")]
    [InlineData("PROXY TCP4 192.0.2.07 198.51.100.1 51234 443\r\n")]
    [InlineData("PROXY TCP4 3221225991 198.51.100.1 51234 443\r\n")]
    [InlineData("PROXY TCP4 2001:db8::7 198.51.100.1 51234 443\r\n")]
    [InlineData("PROXY TCP6 192.0.2.7 2001:db8::1 51234 443\r\n")]
    [InlineData("PROXY TCP6 fe80::1%eth0 2001:db8::1 51234 443\r\n")]
    [InlineData("PROXY UDP4 192.0.2.7 198.51.100.1 51234 443\r\n")]
    [InlineData("PROXY tcp4 192.0.2.7 198.51.100.1 51234 443\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 -1 443\r\n")]
    [InlineData("PROXY\r\n")]
    [InlineData("PROXX TCP4")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7\t198.51.100.1")]
    [InlineData("PROXY TCP4 192.0.2.7\r198.51.100.1")]
    public void TryParse_BrokenV1_Malformed(string text)
    {
        Assert.Equal(ProxyHeaderStatus.Malformed, ProxyHeaderParser.TryParse(Encoding.ASCII.GetBytes(text), out var header));
        Assert.Null(header);
    }

    [Theory]
    [InlineData("P")]
    [InlineData("PROXY ")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r")]
    public void TryParse_V1Prefix_Incomplete(string text) =>
        Assert.Equal(ProxyHeaderStatus.Incomplete, ProxyHeaderParser.TryParse(Encoding.ASCII.GetBytes(text), out _));

    [Fact]
    public void TryParse_V1LongerThan107Bytes_Oversized()
    {
        // 107 bytes with the CRLF is the longest allowed line; one more byte and the CRLF is beyond the bound.
        var longest = "PROXY UNKNOWN " + new string('x', 107 - 16) + "\r\n";
        Assert.Equal(107, longest.Length);
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyHeaderParser.TryParse(Encoding.ASCII.GetBytes(longest), out _));

        var tooLong = "PROXY UNKNOWN " + new string('x', 107 - 15) + "\r\n";
        Assert.Equal(ProxyHeaderStatus.Oversized, ProxyHeaderParser.TryParse(Encoding.ASCII.GetBytes(tooLong), out _));
    }

    [Fact]
    public void TryParse_V2ProxyIpv4WithTlvs_ClientAndWholeLength()
    {
        var header = V2(0x21, 0x11, Ipv4Block("192.0.2.7", 51234, "198.51.100.1", 443), Tlv(0x02, "acme.example"), Tlv(0x05, "id-1"));
        var status = ProxyHeaderParser.TryParse([.. header, .. "after"u8], out var parsed);

        Assert.Equal(ProxyHeaderStatus.Complete, status);
        Assert.Equal(2, parsed!.Version);
        Assert.Equal(header.Length, parsed.Length);
        Assert.Equal(IPEndPoint.Parse("192.0.2.7:51234"), parsed.Source);
        Assert.Equal(IPEndPoint.Parse("198.51.100.1:443"), parsed.Destination);
    }

    [Fact]
    public void TryParse_V2ProxyIpv6_Ipv6Client()
    {
        var block = new byte[36];
        IPAddress.Parse("2001:db8::7").TryWriteBytes(block, out _);
        IPAddress.Parse("2001:db8::1").TryWriteBytes(block.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(32), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(34), 8443);

        Assert.Equal(ProxyHeaderStatus.Complete, ProxyHeaderParser.TryParse(V2(0x21, 0x21, block), out var parsed));
        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:40000"), parsed!.Source);
    }

    [Fact]
    public void TryParse_V2Local_CompleteWithoutAddresses()
    {
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyHeaderParser.TryParse(V2(0x20, 0x00), out var parsed));
        Assert.Null(parsed!.Source);
        Assert.Equal(16, parsed.Length);
    }

    [Fact]
    public void TryParse_V2EveryPrefix_IncompleteUntilTheLastByte()
    {
        var header = V2(0x21, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2), Tlv(0xE0, "x"));
        for (var i = 0; i < header.Length; i++)
        {
            Assert.Equal(ProxyHeaderStatus.Incomplete, ProxyHeaderParser.TryParse(header.AsSpan(0, i), out _));
        }

        Assert.Equal(ProxyHeaderStatus.Complete, ProxyHeaderParser.TryParse(header, out _));
    }

    public static TheoryData<string, byte[]> BrokenV2 => new()
    {
        { "bad signature", [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x55, 0x0A] },
        { "version 1 in the binary form", V2(0x11, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2)) },
        { "command 2", V2(0x22, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2)) },
        { "family 4", V2(0x21, 0x41, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2)) },
        { "transport 3", V2(0x21, 0x13, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2)) },
        { "IPv4 block too short", V2(0x21, 0x11, new byte[11]) },
        { "IPv6 family with an IPv4 block", V2(0x21, 0x21, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2)) },
        { "TLV longer than the header", V2(0x21, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2), [0x02, 0x00, 0x09, 0x61]) },
        { "TLV cut in its length", V2(0x21, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2), [0x02, 0x00]) },
    };

    [Theory]
    [MemberData(nameof(BrokenV2))]
    public void TryParse_BrokenV2_Malformed(string why, byte[] bytes) =>
        Assert.True(ProxyHeaderStatus.Malformed == ProxyHeaderParser.TryParse(bytes, out _), why);

    [Fact]
    public void TryParse_V2LongerThan536Bytes_OversizedFromTheFixedPartAlone()
    {
        var longest = V2(0x21, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2), Tlv(0xEE, new string('a', 536 - 16 - 12 - 3)));
        Assert.Equal(536, longest.Length);
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyHeaderParser.TryParse(longest, out _));

        var tooLong = V2(0x21, 0x11, Ipv4Block("192.0.2.7", 1, "198.51.100.1", 2), Tlv(0xEE, new string('a', 536 - 16 - 12 - 2)));
        Assert.Equal(ProxyHeaderStatus.Oversized, ProxyHeaderParser.TryParse(tooLong.AsSpan(0, 16), out _));
    }

    [Theory]
    [InlineData(0x12)]
    [InlineData(0x31)]
    public void TryParse_V2DatagramOrUnix_Unsupported(byte family) =>
        Assert.Equal(ProxyHeaderStatus.Unsupported, ProxyHeaderParser.TryParse(V2(0x21, family, new byte[216]), out _));

    [Fact]
    public void LooksLikeHeader_EitherVersionButNotHttpOrTls()
    {
        Assert.True(ProxyHeaderParser.LooksLikeHeader("PROXY TCP4 "u8));
        Assert.True(ProxyHeaderParser.LooksLikeHeader(V2(0x21, 0x11)));
        Assert.False(ProxyHeaderParser.LooksLikeHeader("GET / HTTP/1.1\r\n"u8));
        Assert.False(ProxyHeaderParser.LooksLikeHeader([0x16, 0x03, 0x01, 0x00, 0x10, 0x01]));
    }

    /// <summary>A version 2 header written from the specification's layout: signature, version/command, family/transport, length, body.</summary>
    internal static byte[] V2(byte versionCommand, byte familyTransport, params byte[][] parts)
    {
        var body = parts.SelectMany(static p => p).ToArray();
        byte[] fixedPart = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, versionCommand, familyTransport, 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(14), (ushort)body.Length);
        return [.. fixedPart, .. body];
    }

    internal static byte[] Ipv4Block(string source, ushort sourcePort, string destination, ushort destinationPort)
    {
        var block = new byte[12];
        IPAddress.Parse(source).TryWriteBytes(block, out _);
        IPAddress.Parse(destination).TryWriteBytes(block.AsSpan(4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(8), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(10), destinationPort);
        return block;
    }

    private static byte[] Tlv(byte type, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        byte[] head = [type, 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(head.AsSpan(1), (ushort)bytes.Length);
        return [.. head, .. bytes];
    }
}
