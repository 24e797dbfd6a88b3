using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Platform.Silo.Tests.Problems;

/// <summary>One HTTP/1.1 exchange over a raw socket, for requests HttpClient will not send (bad request lines, %00 in a path).</summary>
internal static class RawHttp
{
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

    public static async Task<Response> SendAsync(Uri server, string head, byte[]? body = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = tcp.GetStream();
        var reading = ReadAsync(stream, timeout.Token);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
            if (body is not null)
            {
                await stream.WriteAsync(body, timeout.Token);
            }
        }
        catch (IOException)
        {
            // The server may answer and close before it has read all of an oversized body; its answer is what counts.
        }

        return await reading;
    }

    private static async Task<Response> ReadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[16384];
        int headEnd;
        while ((headEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
        {
            var n = await stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                throw new IOException("The connection closed before the response headers were complete.");
            }

            received.AddRange(buffer.AsSpan(0, n));
        }

        var lines = Encoding.ASCII.GetString(received.GetRange(0, headEnd).ToArray()).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        var rest = received.GetRange(headEnd + 4, received.Count - headEnd - 4);

        async Task<bool> MoreAsync()
        {
            var n = await stream.ReadAsync(buffer, cancellationToken);
            rest.AddRange(buffer.AsSpan(0, n));
            return n > 0;
        }

        if (headers.TryGetValue("Content-Length", out var length))
        {
            var expected = int.Parse(length, CultureInfo.InvariantCulture);
            while (rest.Count < expected && await MoreAsync())
            {
            }

            return new(status, headers, Encoding.UTF8.GetString(rest.Take(expected).ToArray()));
        }

        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = new List<byte>();
            var at = 0;
            while (true)
            {
                int lineEnd;
                while ((lineEnd = IndexOf(rest, "\r\n"u8, at)) < 0)
                {
                    if (!await MoreAsync())
                    {
                        throw new IOException("The connection closed inside a chunked body.");
                    }
                }

                var size = int.Parse(Encoding.ASCII.GetString(rest.GetRange(at, lineEnd - at).ToArray()), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    return new(status, headers, Encoding.UTF8.GetString(decoded.ToArray()));
                }

                while (rest.Count < lineEnd + 2 + size + 2)
                {
                    if (!await MoreAsync())
                    {
                        throw new IOException("The connection closed inside a chunk.");
                    }
                }

                decoded.AddRange(rest.GetRange(lineEnd + 2, size));
                at = lineEnd + 2 + size + 2;
            }
        }

        while (await MoreAsync())
        {
        }

        return new(status, headers, Encoding.UTF8.GetString(rest.ToArray()));
    }

    private static int IndexOf(List<byte> data, ReadOnlySpan<byte> value, int from = 0)
    {
        for (var i = from; i <= data.Count - value.Length; i++)
        {
            var match = true;
            for (var j = 0; j < value.Length && match; j++)
            {
                match = data[i + j] == value[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }
}
