using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>A client that answers the cookie exchange and then goes silent, leaving a half-open handshake.</summary>
internal sealed class StalledClient(IPEndPoint server, string serverName) : IDisposable
{
    private readonly Socket _socket = Connect(server);

    public Task ReachServerHelloAsync() => ReachServerHelloAsync(DtlsServerTests.ClientHello(serverName));

    /// <summary>The exchange with a ClientHello of the caller's (no cookie), e.g. one a BouncyCastle client would send.</summary>
    public async Task ReachServerHelloAsync(byte[] first)
    {
        _socket.Send(first);
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        // Rebuild the ClientHello with the cookie from the HelloVerifyRequest: record header 13, handshake header 12, version 2.
        var cookieLength = buffer[13 + 12 + 2];
        var cookie = buffer.AsSpan(13 + 12 + 3, cookieLength).ToArray();
        Assert.True(length >= 13 + 12 + 3 + cookieLength);
        _socket.Send(WithCookie(first, cookie));
        await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
    }

    /// <summary>Inserts a cookie into a cookie-less DTLS ClientHello and fixes the three length fields.</summary>
    internal static byte[] WithCookie(byte[] hello, byte[] cookie)
    {
        // record(13) | msg_type(1) len(3) seq(2) frag_off(3) frag_len(3) | version(2) random(32) session_id(1+n) cookie(1+m) ...
        var sessionIdLength = hello[13 + 12 + 2 + 32];
        var cookieAt = 13 + 12 + 2 + 32 + 1 + sessionIdLength;
        var result = new byte[hello.Length + cookie.Length];
        hello.AsSpan(0, cookieAt).CopyTo(result);
        result[cookieAt] = (byte)cookie.Length;
        cookie.CopyTo(result, cookieAt + 1);
        hello.AsSpan(cookieAt + 1).CopyTo(result.AsSpan(cookieAt + 1 + cookie.Length));
        var body = result.Length - 13 - 12;
        result[11] = (byte)((body + 12) >> 8);
        result[12] = (byte)(body + 12);
        foreach (var at in new[] { 14, 22 })
        {
            result[at] = (byte)(body >> 16);
            result[at + 1] = (byte)(body >> 8);
            result[at + 2] = (byte)body;
        }

        // message_seq 1: the second ClientHello of the exchange (RFC 6347 4.2.2).
        result[13 + 4] = 0;
        result[13 + 5] = 1;
        // record sequence number 1
        result[10] = 1;
        return result;
    }

    private static Socket Connect(IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Connect(server);
        return socket;
    }

    public void Dispose() => _socket.Dispose();
}
