using System.Buffers;
using System.Text;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// The head of an HTTP/1.1 request on the ws and wss ports, reduced to what a WebSocket upgrade needs
/// (RFC 9112 message syntax, RFC 6455 section 4.2.1). Repeated list headers are joined with commas.
/// </summary>
internal sealed record UpgradeRequest(
    string Method,
    string Path,
    string Host,
    string? Upgrade,
    string? Connection,
    string? Key,
    string? Version,
    string? Protocols,
    string? Extensions,
    string? Origin)
{
    /// <summary>The largest request head accepted (request line and headers); larger ones get 431.</summary>
    public const int MaxHeadBytes = 16 * 1024;

    private static readonly byte[] EndOfHead = "\r\n\r\n"u8.ToArray();

    /// <summary>
    /// A GET that asks to upgrade to WebSocket version 13 with a valid key (RFC 6455 section 4.2.1):
    /// <c>Upgrade: websocket</c>, an <c>Upgrade</c> token in <c>Connection</c>, and a key of 16 bytes in base64.
    /// </summary>
    public bool IsWebSocketRequest =>
        Method == "GET"
        && AsksForWebSocket
        && HasToken(Connection, "upgrade")
        && Version == "13"
        && IsValidKey(Key);

    /// <summary>Names WebSocket in <c>Upgrade</c>, whatever else is wrong with it.</summary>
    public bool AsksForWebSocket => HasToken(Upgrade, "websocket");

    /// <summary>
    /// Looks for a complete head at the start of <paramref name="buffer"/>. Returns <see cref="HeadStatus.Incomplete"/>
    /// while more bytes are needed; otherwise <paramref name="end"/> is where the head ends (bytes after it
    /// belong to the WebSocket) and, when the head is well formed, <paramref name="request"/> is set.
    /// </summary>
    public static HeadStatus TryParse(ReadOnlySequence<byte> buffer, out UpgradeRequest? request, out SequencePosition end)
    {
        var search = new HeadSearch();
        return TryParse(buffer, ref search, out request, out end);
    }

    /// <summary>
    /// <see cref="TryParse(ReadOnlySequence{byte}, out UpgradeRequest?, out SequencePosition)"/> for a buffer that grows
    /// between calls from the same start (a pipe whose reader has examined, not consumed, what it saw): the search for the
    /// blank line resumes where <paramref name="search"/> says the previous call stopped, so a head that arrives a byte at
    /// a time costs work in proportion to its length, not its square.
    /// </summary>
    public static HeadStatus TryParse(ReadOnlySequence<byte> buffer, ref HeadSearch search, out UpgradeRequest? request, out SequencePosition end)
    {
        request = null;
        end = buffer.Start;

        // Only the first MaxHeadBytes can hold a head that is accepted; the delimiter may straddle the previous stop.
        var window = Math.Min(buffer.Length, MaxHeadBytes);
        var from = Math.Max(0, search.Searched - (EndOfHead.Length - 1));

        var reader = new SequenceReader<byte>(buffer.Slice(from, window - from));
        if (!reader.TryReadTo(out ReadOnlySequence<byte> skipped, EndOfHead, advancePastDelimiter: true))
        {
            search.Examined += window - from;
            search.Searched = window;
            return buffer.Length >= MaxHeadBytes ? HeadStatus.TooLarge : HeadStatus.Incomplete;
        }

        search.Examined += reader.Consumed;
        search.Searched = from + reader.Consumed;
        var head = buffer.Slice(0, from + skipped.Length);
        end = buffer.GetPosition(from + reader.Consumed);
        // Latin-1 keeps every byte as one char, so nothing is lost before validation rejects what it must.
        var text = head.Length == 0 ? "" : Encoding.Latin1.GetString(head);
        request = Parse(text);
        return request is null ? HeadStatus.Malformed : HeadStatus.Complete;
    }

    private static UpgradeRequest? Parse(string head)
    {
        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !IsToken(requestLine[0]) || requestLine[2] != "HTTP/1.1")
        {
            return null;
        }

        var path = PathOf(requestLine[1]);
        if (path is null)
        {
            return null;
        }

        string? host = null, upgrade = null, connection = null, key = null, version = null, protocols = null, extensions = null, origin = null;
        var hosts = 0;
        var fields = new HeaderField[lines.Length - 1];
        var lineStart = lines[0].Length + 2;
        for (var i = 1; i < lines.Length; lineStart += lines[i].Length + 2, i++)
        {
            var line = lines[i];
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            // No name, whitespace before the colon, or a folded continuation line: all malformed (RFC 9112 section 5).
            if (colon <= 0 || !IsToken(line.AsSpan(0, colon)))
            {
                return null;
            }

            var raw = line.AsSpan(colon + 1);
            var value = raw.Trim(" \t");
            fields[i - 1] = new HeaderField(lineStart, colon, lineStart + colon + 1 + (raw.Length - raw.TrimStart(" \t").Length), value.Length);
            if (value.ContainsAnyInRange('\0', '\b') || value.ContainsAnyInRange('\n', '\u001f') || value.Contains('\u007f'))
            {
                return null;
            }

            var name = line.AsSpan(0, colon);
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                hosts++;
                host = value.ToString();
            }
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                upgrade = Join(upgrade, value);
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                connection = Join(connection, value);
            }
            else if (name.Equals("Sec-WebSocket-Key", StringComparison.OrdinalIgnoreCase))
            {
                key = key is null ? value.ToString() : "";
            }
            else if (name.Equals("Sec-WebSocket-Version", StringComparison.OrdinalIgnoreCase))
            {
                version = Join(version, value);
            }
            else if (name.Equals("Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase))
            {
                protocols = Join(protocols, value);
            }
            else if (name.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase))
            {
                extensions = Join(extensions, value);
            }
            else if (name.Equals("Origin", StringComparison.OrdinalIgnoreCase))
            {
                origin = value.ToString();
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                || (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && !value.SequenceEqual("0")))
            {
                // An upgrade request has no body; one announced would be read as WebSocket frames.
                return null;
            }
        }

        // RFC 9112 section 3.2: exactly one Host header.
        return hosts != 1 ? null : new UpgradeRequest(requestLine[0], path, host!, upgrade, connection, key, version, protocols, extensions, origin)
        {
            Target = requestLine[1],
            Head = head,
            Fields = fields,
        };
    }

    /// <summary>The request target as the client sent it (path and query).</summary>
    public string Target { get; private init; } = "/";

    /// <summary>The request head as received (Latin-1), for the few consumers that need every header (webhook connect events).</summary>
    public string Head { get; private init; } = "";

    /// <summary>Where each header line's name and value stand in <see cref="Head"/>, found by the one parse.</summary>
    private HeaderField[] Fields { get; init; } = [];

    /// <summary>The query of the request target without its <c>?</c>, or null when there is none.</summary>
    public string? Query
    {
        get
        {
            var start = Target.IndexOf('?', StringComparison.Ordinal);
            if (start < 0)
            {
                return null;
            }

            var end = Target.IndexOf('#', start);
            return end < 0 ? Target[(start + 1)..] : Target[(start + 1)..end];
        }
    }

    /// <summary>Every header line of the head, in order, as name and value (from the places the parse found them in <see cref="Head"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers()
    {
        var headers = new KeyValuePair<string, string>[Fields.Length];
        for (var i = 0; i < Fields.Length; i++)
        {
            var field = Fields[i];
            headers[i] = new(Head.Substring(field.NameStart, field.NameLength), Head.Substring(field.ValueStart, field.ValueLength));
        }

        return headers;
    }

    /// <summary>The path of an origin-form (<c>/a/b?q</c>) or absolute-form (<c>http://h/a/b</c>) target, without the query.</summary>
    private static string? PathOf(string target)
    {
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var authorityStart = target.IndexOf("//", StringComparison.Ordinal) + 2;
            var slash = target.IndexOf('/', authorityStart);
            target = slash < 0 ? "/" : target[slash..];
        }

        if (!target.StartsWith('/'))
        {
            return null;
        }

        foreach (var c in target)
        {
            if (c <= ' ' || c >= '\u007f')
            {
                return null;
            }
        }

        var query = target.IndexOfAny(['?', '#']);
        return query < 0 ? target : target[..query];
    }

    private static string Join(string? existing, ReadOnlySpan<char> value) => existing is null ? value.ToString() : $"{existing}, {value}";

    /// <summary>Whether a comma-separated header value holds <paramref name="token"/> (case-insensitive).</summary>
    private static bool HasToken(string? value, string token)
    {
        if (value is null)
        {
            return false;
        }

        foreach (var range in value.AsSpan().Split(','))
        {
            if (value.AsSpan()[range].Trim(" \t").Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsValidKey(string? key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key is { Length: 24 } && Convert.TryFromBase64String(key, decoded, out var written) && written == 16;
    }

    /// <summary>A header line's name and (trimmed) value as offsets into <see cref="Head"/>.</summary>
    private readonly record struct HeaderField(int NameStart, int NameLength, int ValueStart, int ValueLength);

    private static bool IsToken(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is <= ' ' or >= '\u007f' or '(' or ')' or '<' or '>' or '@' or ',' or ';' or ':' or '\\' or '"' or '/' or '[' or ']' or '?' or '=' or '{' or '}')
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>What <see cref="UpgradeRequest.TryParse(ReadOnlySequence{byte}, out UpgradeRequest?, out SequencePosition)"/> found.</summary>
internal enum HeadStatus
{
    Incomplete,
    Complete,
    Malformed,
    TooLarge,
}
