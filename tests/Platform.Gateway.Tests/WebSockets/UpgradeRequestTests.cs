using System.Buffers;
using System.Text;
using Platform.Gateway.WebSockets;

namespace Platform.Gateway.Tests.WebSockets;

public sealed class UpgradeRequestTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static string Upgrade(string target = "/t/acme/x?token=1", string extra = "") =>
        $"GET {target} HTTP/1.1\r\nHost: acme.example:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
        $"Sec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n";

    private static (HeadStatus Status, UpgradeRequest? Request, long Consumed) Parse(string text)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text));
        var status = UpgradeRequest.TryParse(buffer, out var request, out var end);
        return (status, request, buffer.Slice(0, end).Length);
    }

    [Fact]
    public void ValidUpgrade_ParsedWithPathWithoutQueryAndJoinedListHeaders()
    {
        var head = Upgrade(extra: "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: json\r\nOrigin: https://app.example\r\nSec-WebSocket-Extensions: permessage-deflate\r\n");

        var (status, request, consumed) = Parse(head + "\x81\x80after");

        Assert.Equal(HeadStatus.Complete, status);
        Assert.Equal(head.Length, consumed);
        Assert.True(request!.IsWebSocketRequest);
        Assert.Equal(("GET", "/t/acme/x", "acme.example:8080"), (request.Method, request.Path, request.Host));
        Assert.Equal("chat, json", request.Protocols);
        Assert.Equal("https://app.example", request.Origin);
        Assert.Equal("permessage-deflate", request.Extensions);
    }

    [Fact]
    public void Headers_EveryLineInOrder_NamesAsSentValuesTrimmedRepeatsKept()
    {
        var head = Upgrade(extra: "X-Empty:\r\nx-trace:  \t a:b = c \t\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol:json\r\n");

        var (_, request, _) = Parse(head);

        Assert.Equal(
            [
                new("Host", "acme.example:8080"), new("Upgrade", "websocket"), new("Connection", "keep-alive, Upgrade"),
                new("Sec-WebSocket-Key", Key), new("Sec-WebSocket-Version", "13"), new("X-Empty", ""), new("x-trace", "a:b = c"),
                new("Sec-WebSocket-Protocol", "chat"), new KeyValuePair<string, string>("Sec-WebSocket-Protocol", "json"),
            ],
            request!.Headers());
    }

    [Fact]
    public void HeadSplitAcrossSegments_IncompleteUntilTheBlankLine()
    {
        var head = Upgrade();

        Assert.Equal(HeadStatus.Incomplete, Parse(head[..^2]).Status);
        Assert.Equal(HeadStatus.Incomplete, Parse("").Status);
        Assert.Equal(HeadStatus.Complete, Parse(head).Status);
    }

    [Fact]
    public void AbsoluteFormTarget_TakesItsPath()
    {
        var (_, request, _) = Parse(Upgrade("http://acme.example/t/acme/abs?q=1"));

        Assert.Equal("/t/acme/abs", request!.Path);
    }

    [Fact]
    public void OversizeHead_TooLargeEvenBeforeItEnds()
    {
        var filler = $"X-Filler: {new string('a', UpgradeRequest.MaxHeadBytes)}\r\n";

        Assert.Equal(HeadStatus.TooLarge, Parse(Upgrade(extra: filler)).Status);
        Assert.Equal(HeadStatus.TooLarge, Parse(Upgrade(extra: filler)[..(UpgradeRequest.MaxHeadBytes + 10)]).Status);
    }

    [Theory]
    [InlineData("GET /t/acme/ HTTP/1.0\r\nHost: a\r\n\r\n")] // no upgrade in HTTP/1.0
    [InlineData("GET /t/acme/ HTTP/1.1\r\n\r\n")] // no Host
    [InlineData("GET /t/acme/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")] // two Hosts
    [InlineData("GET /t/acme/ HTTP/1.1\r\nHost : a\r\n\r\n")] // space before the colon
    [InlineData("GET /t/acme/ HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n")] // obs-fold
    [InlineData("GET /t/acme/ HTTP/1.1\r\nHost: a\r\nX: a\u0001b\r\n\r\n")] // control character in a value
    [InlineData("GET t/acme/ HTTP/1.1\r\nHost: a\r\n\r\n")] // not origin-form
    [InlineData("GET /t/a cme/ HTTP/1.1\r\nHost: a\r\n\r\n")] // space in the target
    [InlineData("GET  /t/acme/ HTTP/1.1\r\nHost: a\r\n\r\n")] // two spaces
    [InlineData("G(T /t/acme/ HTTP/1.1\r\nHost: a\r\n\r\n")] // method is not a token
    [InlineData("GET /t/acme/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")] // a body on an upgrade
    [InlineData("GET /t/acme/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    public void MalformedHead_Rejected(string head)
    {
        var (status, request, consumed) = Parse(head);

        Assert.Equal(HeadStatus.Malformed, status);
        Assert.Null(request);
        Assert.Equal(head.Length, consumed);
    }

    [Theory]
    [InlineData("POST", "websocket", "Upgrade", Key, "13")]
    [InlineData("GET", "h2c", "Upgrade", Key, "13")]
    [InlineData("GET", "websocket", "keep-alive", Key, "13")]
    [InlineData("GET", "websocket", "Upgrade", "short", "13")]
    [InlineData("GET", "websocket", "Upgrade", "dGhlIHNhbXBsZSBub25jZQ=!", "13")]
    [InlineData("GET", "websocket", "Upgrade", Key, "8")]
    public void NotAValidWebSocketUpgrade_ParsedButNotAnUpgrade(string method, string upgrade, string connection, string key, string version)
    {
        var (status, request, _) = Parse(
            $"{method} / HTTP/1.1\r\nHost: a\r\nUpgrade: {upgrade}\r\nConnection: {connection}\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n");

        Assert.Equal(HeadStatus.Complete, status);
        Assert.False(request!.IsWebSocketRequest);
    }

    [Fact]
    public void TwoKeys_NotAnUpgrade()
    {
        var (_, request, _) = Parse(Upgrade(extra: $"Sec-WebSocket-Key: {Key}\r\n"));

        Assert.False(request!.IsWebSocketRequest);
    }

    [Fact]
    public void SeededMutationsOfAValidHead_NeverThrow()
    {
        var valid = Encoding.Latin1.GetBytes(Upgrade(extra: "Origin: https://a\r\nSec-WebSocket-Protocol: chat\r\n"));
        var random = new Random(6455);
        for (var i = 0; i < 20_000; i++)
        {
            var mutated = (byte[])valid.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            var cut = random.Next(mutated.Length + 1);
            var status = UpgradeRequest.TryParse(new ReadOnlySequence<byte>(mutated, 0, cut), out var request, out _);

            Assert.Equal(status == HeadStatus.Complete, request is not null);
        }
    }

    [Fact]
    public void HeadDeliveredAByteAtATime_EachByteExaminedAtMostFourTimes()
    {
        // Close to the 16 KiB limit: searching the whole head again on every read would look at about n²/2 bytes.
        var head = Encoding.Latin1.GetBytes(Upgrade(extra: $"X-Filler: {new string('a', UpgradeRequest.MaxHeadBytes - 400)}\r\n"));
        Assert.InRange(head.Length, UpgradeRequest.MaxHeadBytes - 300, UpgradeRequest.MaxHeadBytes);

        var chain = Segments(head, 61, head.Length - 2);
        foreach (var segmented in new[] { false, true })
        {
            var search = new HeadSearch();
            var status = HeadStatus.Incomplete;
            UpgradeRequest? request = null;
            long consumed = 0;
            for (var length = 1; length <= head.Length; length++)
            {
                // As a pipe hands it over: the same start each time, one byte more, in one segment or in several.
                var buffer = segmented ? chain.Slice(0, length) : new ReadOnlySequence<byte>(head, 0, length);
                status = UpgradeRequest.TryParse(buffer, ref search, out request, out var end);
                consumed = buffer.Slice(0, end).Length;
                if (length < head.Length)
                {
                    Assert.Equal(HeadStatus.Incomplete, status);
                }
            }

            Assert.Equal(HeadStatus.Complete, status);
            Assert.Equal(head.Length, consumed);
            Assert.True(request!.IsWebSocketRequest);
            // Each read looks at its new byte and at most the three before it, which may start the blank line.
            Assert.True(search.Examined <= 4L * head.Length, $"{search.Examined} bytes examined for a head of {head.Length} (segmented: {segmented}).");
        }
    }

    [Fact]
    public void OversizeHeadDeliveredAByteAtATime_TooLargeAtTheLimitWithLinearWork()
    {
        var search = new HeadSearch();
        var filler = Encoding.Latin1.GetBytes(new string('a', UpgradeRequest.MaxHeadBytes + 10));
        var status = HeadStatus.Incomplete;
        var length = 0;
        while (status == HeadStatus.Incomplete)
        {
            length++;
            status = UpgradeRequest.TryParse(new ReadOnlySequence<byte>(filler, 0, length), ref search, out _, out _);
        }

        Assert.Equal(HeadStatus.TooLarge, status);
        Assert.Equal(UpgradeRequest.MaxHeadBytes, length);
        Assert.True(search.Examined <= 4L * length, $"{search.Examined} bytes examined for {length} bytes received.");
    }

    /// <summary>The bytes as a chain of segments of <paramref name="size"/> bytes, with one more cut at <paramref name="cut"/>.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size, int cut)
    {
        var bounds = Enumerable.Range(1, (bytes.Length - 1) / size).Select(i => i * size).Append(cut).Append(bytes.Length).Distinct().Order().ToList();
        var first = new Segment(bytes.AsMemory(0, bounds[0]), 0);
        var last = first;
        for (var i = 1; i < bounds.Count; i++)
        {
            last = last.Append(bytes.AsMemory(bounds[i - 1], bounds[i] - bounds[i - 1]));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
