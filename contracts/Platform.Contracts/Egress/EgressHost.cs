using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Platform.Contracts.Egress;

/// <summary>
/// A tenant-supplied host in canonical form: every numeric spelling that <c>getaddrinfo</c> / <c>inet_aton</c> or a
/// WHATWG URL parser would turn into an address becomes that address, so that a policy check sees what a connect would
/// reach. IPv4: one to four parts, each decimal, octal (leading <c>0</c>) or hex (<c>0x</c>), the last part filling the
/// remaining bytes (<c>2852039166</c>, <c>0x7f.1</c>, <c>0177.0.0.1</c>, <c>127.1</c>). IPv6: with or without brackets,
/// with an embedded IPv4 tail, with a zone id (<c>fe80::1%eth0</c>). One trailing dot is dropped. A host whose last
/// label is numeric is an IPv4 form and is <see cref="EgressHostKind.Invalid"/> if it does not parse (the WHATWG URL
/// rule), so <c>1.2.3.999</c> can never reach a resolver. <c>localhost</c> and <c>*.localhost</c> are loopback names.
/// </summary>
public sealed class EgressHost
{
    private const int MaxNameLength = 253;
    private static readonly SearchValues<char> Digits = SearchValues.Create("0123456789");
    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");
    private static readonly SearchValues<char> IPv6Characters = SearchValues.Create("0123456789abcdefABCDEF:.");
    private static readonly SearchValues<char> ZoneCharacters = SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.");

    private EgressHost(EgressHostKind kind, IPAddress? address, string? name)
    {
        Kind = kind;
        Address = address;
        Name = name;
    }

    /// <summary>What the host is.</summary>
    public EgressHostKind Kind { get; }

    /// <summary>The address, for <see cref="EgressHostKind.Address"/> (IPv4 as IPv4; an IPv6 zone id kept as its scope).</summary>
    public IPAddress? Address { get; }

    /// <summary>The name in lower case without a trailing dot, for <see cref="EgressHostKind.Name"/> and <see cref="EgressHostKind.LoopbackName"/>.</summary>
    public string? Name { get; }

    /// <summary>
    /// The addresses a host stands for without asking DNS: the address itself, or <c>127.0.0.1</c> and <c>::1</c> for a
    /// loopback name; empty for a DNS name or an invalid host.
    /// </summary>
    public IReadOnlyList<IPAddress> LiteralAddresses => Kind switch
    {
        EgressHostKind.Address => [Address!],
        EgressHostKind.LoopbackName => [IPAddress.Loopback, IPAddress.IPv6Loopback],
        _ => [],
    };

    /// <summary>Canonicalises <paramref name="host"/>; never throws.</summary>
    public static EgressHost Parse(string? host)
    {
        if (string.IsNullOrEmpty(host) || host.Length > 1024)
        {
            return Invalid;
        }

        if (host[0] == '[')
        {
            return host.Length > 2 && host[^1] == ']' && TryParseIPv6(host.AsSpan(1, host.Length - 2), out var bracketed)
                ? new EgressHost(EgressHostKind.Address, bracketed, null)
                : Invalid;
        }

        if (host.Contains(':', StringComparison.Ordinal))
        {
            return TryParseIPv6(host, out var ipv6) ? new EgressHost(EgressHostKind.Address, ipv6, null) : Invalid;
        }

        var name = host.EndsWith('.') ? host[..^1] : host;
        if (name.Length == 0 || name.Length > MaxNameLength)
        {
            return Invalid;
        }

        var lastDot = name.LastIndexOf('.');
        if (EndsInNumber(name.AsSpan(lastDot + 1)))
        {
            return TryParseIPv4(name, out var ipv4) ? new EgressHost(EgressHostKind.Address, ipv4, null) : Invalid;
        }

        if (!IsName(name))
        {
            return Invalid;
        }

        name = name.ToLowerInvariant();
        var loopback = name == "localhost" || name.EndsWith(".localhost", StringComparison.Ordinal);
        return new EgressHost(loopback ? EgressHostKind.LoopbackName : EgressHostKind.Name, null, name);
    }

    /// <summary>The host as it is checked and logged: the address in standard notation, or the name.</summary>
    public override string ToString() => Kind switch
    {
        EgressHostKind.Address => Address!.ToString(),
        EgressHostKind.Invalid => "(invalid host)",
        _ => Name!,
    };

    private static EgressHost Invalid { get; } = new(EgressHostKind.Invalid, null, null);

    /// <summary>The WHATWG "ends in a number" test on the last label: all digits, or <c>0x</c> followed by hex digits only.</summary>
    private static bool EndsInNumber(ReadOnlySpan<char> last)
    {
        if (last.IsEmpty)
        {
            return false;
        }

        if (!last.ContainsAnyExcept(Digits))
        {
            return true;
        }

        return last.Length >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') && !last[2..].ContainsAnyExcept(HexDigits);
    }

    /// <summary>The WHATWG IPv4 parser, which accepts what <c>inet_aton</c> accepts.</summary>
    private static bool TryParseIPv4(string text, out IPAddress? address)
    {
        address = null;
        Span<Range> ranges = stackalloc Range[5];
        var span = text.AsSpan();
        var count = span.Split(ranges, '.');
        if (count is 0 or > 4)
        {
            return false;
        }

        Span<ulong> numbers = stackalloc ulong[4];
        for (var i = 0; i < count; i++)
        {
            if (!TryParseNumber(span[ranges[i]], out numbers[i]))
            {
                return false;
            }
        }

        ulong value = 0;
        for (var i = 0; i < count - 1; i++)
        {
            if (numbers[i] > 255)
            {
                return false;
            }

            value |= numbers[i] << (8 * (3 - i));
        }

        var last = numbers[count - 1];
        if (last >= 1UL << (8 * (5 - count)))
        {
            return false;
        }

        value |= last;
        address = new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
        return true;
    }

    private static bool TryParseNumber(ReadOnlySpan<char> part, out ulong value)
    {
        value = 0;
        if (part.IsEmpty)
        {
            return false;
        }

        var radix = 10;
        if (part.Length >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X'))
        {
            part = part[2..];
            radix = 16;
        }
        else if (part.Length >= 2 && part[0] == '0')
        {
            part = part[1..];
            radix = 8;
        }

        foreach (var c in part)
        {
            var digit = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => 99,
            };
            if (digit >= radix)
            {
                return false;
            }

            // Anything above 32 bits fails later; stop growing so a long run of digits cannot overflow.
            value = Math.Min((value * (ulong)radix) + (ulong)digit, 1UL << 40);
        }

        return true;
    }

    private static bool TryParseIPv6(ReadOnlySpan<char> text, out IPAddress? address)
    {
        address = null;
        var zone = text.IndexOf('%');
        var core = zone < 0 ? text : text[..zone];
        if (core.IsEmpty || core.ContainsAnyExcept(IPv6Characters))
        {
            return false;
        }

        if (!IPAddress.TryParse(core, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        if (zone >= 0)
        {
            var id = text[(zone + 1)..];
            if (id.IsEmpty || id.Length > 64 || id.ContainsAnyExcept(ZoneCharacters))
            {
                return false;
            }

            // A numeric zone is the interface index; a named one is looked up when the address is parsed with it.
            if (uint.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                parsed.ScopeId = index;
            }
            else if (IPAddress.TryParse(text, out var scoped))
            {
                parsed = scoped;
            }
        }

        address = parsed;
        return true;
    }

    /// <summary>DNS labels of letters, digits, <c>-</c> and <c>_</c>, 1..63 characters each.</summary>
    private static bool IsName(string name)
    {
        var label = 0;
        foreach (var c in name)
        {
            if (c == '.')
            {
                if (label == 0)
                {
                    return false;
                }

                label = 0;
                continue;
            }

            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || ++label > 63)
            {
                return false;
            }
        }

        return label > 0;
    }
}
