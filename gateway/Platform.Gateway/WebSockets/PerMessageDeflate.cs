using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// Negotiates permessage-deflate (RFC 7692) from the client's <c>Sec-WebSocket-Extensions</c> offers: the
/// first offer this server can honour is accepted, with every parameter it named answered, and becomes the
/// runtime's deflate options. Offers with unknown or repeated parameters, or window sizes the runtime does
/// not support (it supports 9 to 15 bits), are declined; when none is acceptable the connection runs uncompressed.
/// </summary>
internal static class PerMessageDeflate
{
    private const string Name = "permessage-deflate";

    public static bool TryNegotiate(string? offers, out WebSocketDeflateOptions? options, out string? response)
    {
        options = null;
        response = null;
        if (string.IsNullOrEmpty(offers))
        {
            return false;
        }

        foreach (var offer in offers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (TryAccept(offer, out options, out response))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryAccept(string offer, out WebSocketDeflateOptions? options, out string? response)
    {
        options = null;
        response = null;
        var parts = offer.Split(';', StringSplitOptions.TrimEntries);
        if (!parts[0].Equals(Name, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var accepted = new WebSocketDeflateOptions();
        var answer = new StringBuilder(Name);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in parts.AsSpan(1))
        {
            if (parameter.Length == 0)
            {
                continue;
            }

            var equals = parameter.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? parameter : parameter[..equals]).Trim();
            var value = equals < 0 ? null : parameter[(equals + 1)..].Trim().Trim('"');
            if (!seen.Add(name))
            {
                return false;
            }

            switch (name.ToLowerInvariant())
            {
                case "server_no_context_takeover" when value is null:
                    accepted.ServerContextTakeover = false;
                    answer.Append("; server_no_context_takeover");
                    break;
                case "client_no_context_takeover" when value is null:
                    accepted.ClientContextTakeover = false;
                    answer.Append("; client_no_context_takeover");
                    break;
                case "server_max_window_bits":
                    if (!TryWindowBits(value, out var serverBits))
                    {
                        return false;
                    }

                    accepted.ServerMaxWindowBits = serverBits;
                    answer.Append(CultureInfo.InvariantCulture, $"; server_max_window_bits={serverBits}");
                    break;
                case "client_max_window_bits":
                    // Without a value the client only says it supports the parameter; the server may leave it at 15.
                    if (value is null)
                    {
                        break;
                    }

                    if (!TryWindowBits(value, out var clientBits))
                    {
                        return false;
                    }

                    accepted.ClientMaxWindowBits = clientBits;
                    answer.Append(CultureInfo.InvariantCulture, $"; client_max_window_bits={clientBits}");
                    break;
                default:
                    return false;
            }
        }

        options = accepted;
        response = answer.ToString();
        return true;
    }

    private static bool TryWindowBits(string? value, out int bits) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out bits) && bits is >= 9 and <= 15;
}
