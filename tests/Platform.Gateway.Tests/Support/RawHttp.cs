using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Platform.Gateway.Tests.Support;

/// <summary>Hand-written upgrade requests over a socket bound to a chosen source address.</summary>
internal static class RawHttp
{
    public const string ValidKey = "dGhlIHNhbXBsZSBub25jZQ==";

    /// <summary>Sends an upgrade request and reads the response head and body (until close or Content-Length).</summary>
    public static async Task<(int Status, string Head, string Body)> UpgradeAsync(
        IPEndPoint gateway, string host, string path, IPAddress? source = null, string? extraHeaders = null, string key = ValidKey)
    {
        var request = $"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            (key.Length > 0 ? $"Sec-WebSocket-Key: {key}\r\n" : "") + "Sec-WebSocket-Version: 13\r\n" + (extraHeaders ?? "") + "\r\n";
        return await SendAsync(gateway, request, source);
    }

    public static async Task<(int Status, string Head, string Body)> SendAsync(IPEndPoint gateway, string request, IPAddress? source = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(gateway, timeout.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, timeout.Token);
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var text = Encoding.UTF8.GetString(received.ToArray());
            var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (split >= 0)
            {
                var head = text[..split];
                var body = text[(split + 4)..];
                var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (status == 101)
                {
                    return (status, head, "");
                }

                var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                if (lengthLine is not null && Encoding.UTF8.GetByteCount(body) >= int.Parse(lengthLine.Split(':')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture))
                {
                    return (status, head, body);
                }

                if (lengthLine is null && head.Contains("chunked", StringComparison.OrdinalIgnoreCase) && body.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
                {
                    return (status, head, body);
                }
            }

            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (read == 0)
            {
                var final = Encoding.UTF8.GetString(received.ToArray());
                var end = final.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                return end < 0
                    ? (0, final, "")
                    : (int.Parse(final.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), final[..end], final[(end + 4)..]);
            }

            received.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }
}
