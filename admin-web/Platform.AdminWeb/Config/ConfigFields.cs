using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Contracts;
using Platform.Contracts.Config;
using static Platform.AdminWeb.Config.ConfigFieldKind;

namespace Platform.AdminWeb.Config;

/// <summary>
/// Every field of <see cref="TenantConfig"/> with its default (read from the contract's own defaults)
/// and limits (those <see cref="TenantConfigValidator"/> enforces), and the mapping between the form
/// and the JSON document sent to the silo.
/// </summary>
public static class ConfigFields
{
    private static readonly JsonObject s_defaults = JsonSerializer.SerializeToNode(new TenantConfig
    {
        Delivery = new DeliveryConfig { Forward = new ForwardConfig(), Webhook = new WebhookConfig() },
    }, PlatformJson.Options)!.AsObject();

    public static IReadOnlyList<ConfigField> All { get; } =
    [
        F("limits.maxConnections", "Limits", "Max connections (cluster-wide)", WholeNumber, $"1..{LimitsConfig.MaxMaxConnections}"),
        F("limits.connectionsPerSecond", "Limits", "New connections per second (0 = unlimited)", WholeNumber, "0..100000"),
        F("limits.maxConnectionsPerClient", "Limits", "Connections per client IP (0 = unlimited)", WholeNumber, $"0..{LimitsConfig.MaxMaxConnections}"),
        F("limits.maxHalfOpenHandshakes", "Limits", "TLS, wss and DTLS handshakes in progress", WholeNumber, "1..100000"),
        F("limits.maxHalfOpenHandshakesPerClient", "Limits", "Handshakes in progress per client (IPv4 address or IPv6 /64)", WholeNumber, "1..10000"),
        F("access.allowedClients", "Access lists", "Allowed clients", CommaList, "host names, IPs, * wildcards, CIDR, IPv6; * admits everyone"),
        F("access.blockedClients", "Access lists", "Blocked clients", CommaList, "same format; wins over allowed"),
        F("timeouts.idleTimeoutSeconds", "Timeouts", "Idle timeout, seconds (0 = none; DTLS still ends at its own)", WholeNumber, $"0..{TimeoutsConfig.MaxIdleTimeoutSeconds}"),
        F("timeouts.dtlsIdleTimeoutSeconds", "Timeouts", "DTLS idle timeout, seconds (a silent DTLS session ends)", WholeNumber, $"1..{TimeoutsConfig.MaxIdleTimeoutSeconds}"),
        F("timeouts.handshakeTimeoutSeconds", "Timeouts", "Handshake timeout, seconds", WholeNumber, "1..300"),
        F("tls.minProtocol", "TLS", "Minimum protocol", Choice, "tls12 or tls13", [TlsProtocols.Tls12, TlsProtocols.Tls13]),
        F("tls.cipherSuites", "TLS", "Cipher suites (IANA names; empty = platform default)", Lines, $"at most {TenantConfigValidator.MaxListEntries}"),
        F("tls.clientCertificates", "TLS", "Client certificates", Choice, "none, optional, required",
            [ClientCertificateModes.None, ClientCertificateModes.Optional, ClientCertificateModes.Required]),
        F("tls.clientCaCertificates", "TLS", "Client CA certificates (PEM)", Multiline, "required unless client certificates are none"),
        F("webSocket.allowedOrigins", "WebSocket", "Allowed origins (empty = any)", Lines, $"scheme://host[:port], *.host allowed; at most {TenantConfigValidator.MaxListEntries}"),
        F("webSocket.subProtocols", "WebSocket", "Sub-protocols, in preference order", Lines, "HTTP tokens, 1..128 characters"),
        F("webSocket.maxMessageSize", "WebSocket", "Max message size, bytes", WholeNumber, $"125..{TenantConfigValidator.MaxWebSocketMessageSize}"),
        F("webSocket.pingIntervalSeconds", "WebSocket", "Ping interval, seconds (0 = off)", WholeNumber, "0..3600"),
        F("webSocket.pongTimeoutSeconds", "WebSocket", "Pong timeout, seconds", WholeNumber, "1..600"),
        F("webSocket.perMessageDeflate", "WebSocket", "Accept permessage-deflate", Switch, "on or off"),
        F("socket.noDelay", "Socket", "TCP no-delay", Switch, "on or off"),
        F("socket.keepAlive", "Socket", "Keep-alive (TCP probes; DTLS sessions use heartbeats, below)", Switch, "on or off"),
        F("socket.keepAliveTimeSeconds", "Socket", "Keep-alive time, seconds", WholeNumber, "1..7200"),
        F("socket.keepAliveIntervalSeconds", "Socket", "Keep-alive interval, seconds", WholeNumber, "1..600"),
        F("socket.linger", "Socket", "Linger (send queued data before closing)", Switch, "on or off"),
        F("dtls.heartbeatIntervalSeconds", "DTLS", "Heartbeat interval, seconds (0 = off; RFC 6520, for clients that offer heartbeats)", WholeNumber,
            $"0 or {DtlsConfig.MinHeartbeatIntervalSeconds}..{DtlsConfig.MaxHeartbeatIntervalSeconds}"),
        F("dtls.heartbeatTimeoutSeconds", "DTLS", "Heartbeat timeout, seconds (unanswered: the session ends)", WholeNumber,
            $"1..{DtlsConfig.MaxHeartbeatTimeoutSeconds}, at most the interval"),
        F("dtls.connectionIds.enabled", "DTLS", "Connection IDs (RFC 9146: a session survives a changed client address)", Switch, "on or off"),
        F("dtls.connectionIds.length", "DTLS", "Connection ID length, bytes", WholeNumber, $"{DtlsConnectionIdConfig.MinLength}..{DtlsConnectionIdConfig.MaxLength}"),
        F("dtls.rawPublicKeys.enabled", "DTLS", "Raw public keys (RFC 7250: clients authenticate with a key listed on the keys page)", Switch, "on or off"),
        F("framing.mode", "Framing", "Stream framing", Choice, "none, line, record", [FramingModes.None, FramingModes.Line, FramingModes.Record]),
        F("framing.eol", "Framing", "End of line (\\n, \\r\\n escapes)", Text, "1..16 characters"),
        F("framing.maxLineLength", "Framing", "Max line length", WholeNumber, $"{FramingConfig.MinMaxLineLength}..1048576"),
        F("framing.singleLineMode", "Framing", "Single-line mode (CR, LF or CRLF end a line)", Switch, "on or off"),
        F("framing.recordLength", "Framing", "Record length", WholeNumber, "1..1048576 in record mode"),
        F("delivery.mode", "Delivery", "Mode", Choice, "echo, forward, webhook", [DeliveryModes.Echo, DeliveryModes.Forward, DeliveryModes.Webhook]),
        F("delivery.forward.host", "Delivery", "Forward host", Text, "host name or IP"),
        F("delivery.forward.port", "Delivery", "Forward port", WholeNumber, "1..65535"),
        F("delivery.forward.protocol", "Delivery", "Forward protocol", Choice, "tcp, tls, udp", [ForwardProtocols.Tcp, ForwardProtocols.Tls, ForwardProtocols.Udp]),
        F("delivery.forward.connectTimeoutSeconds", "Delivery", "Forward connect timeout, seconds", WholeNumber, "1..60"),
        F("delivery.forward.messageFraming", "Delivery", "Message framing to the backend", Choice, "raw, line, lengthPrefix, lengthPrefix16",
            [MessageFramings.Raw, MessageFramings.Line, MessageFramings.LengthPrefix, MessageFramings.LengthPrefix16]),
        F("delivery.forward.proxyProtocol", "Delivery", "PROXY protocol header to the backend", Choice, "none, v2 (tcp and tls backends)",
            [ProxyProtocolVersions.None, ProxyProtocolVersions.V2]),
        F("delivery.forward.backendMessageType", "Delivery", "Backend message type", Choice, "binary, text", [BackendMessageTypes.Binary, BackendMessageTypes.Text]),
        F("delivery.webhook.url", "Delivery", "Webhook URL", Text, "absolute http(s) URL, at most 2048 characters"),
        F("delivery.webhook.secret", "Delivery", "Webhook signing secret (write-only)", Secret, "16..256 characters; empty keeps the stored one"),
        F("delivery.webhook.timeoutSeconds", "Delivery", "Webhook timeout, seconds", WholeNumber, "1..30"),
        F("listeners", "Listeners", "Listener kinds that accept clients (empty = all; without ws and tcp while client certificates are required)", Lines,
            string.Join(", ", ListenerProtocols.All)),
        F("hostNames", "Host names", "Custom host names", Lines, $"DNS names, a leading *. allowed, no wildcard over a public suffix; each routes once verified (see Host names above); at most {TenantConfigValidator.MaxHostNames}"),
    ];

    public static IEnumerable<IGrouping<string, ConfigField>> Sections => All.GroupBy(f => f.Section);

    /// <summary>The value as the form shows it.</summary>
    public static string Display(JsonObject config, ConfigField field)
    {
        ArgumentNullException.ThrowIfNull(field);
        var node = Find(config, field.Path);
        return field.Kind switch
        {
            Secret => "",
            Lines => node is JsonArray a ? string.Join('\n', a.Select(x => x?.GetValue<string>() ?? "")) : "",
            CommaList => string.Join('\n', (node?.GetValue<string>() ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)),
            Text when field.Path == "framing.eol" => Escape(node?.GetValue<string>() ?? ""),
            Switch => node?.GetValue<bool>() == true ? "true" : "false",
            WholeNumber => node is null ? "" : node.GetValue<int>().ToString(CultureInfo.InvariantCulture),
            _ => node?.GetValue<string>() ?? "",
        };
    }

    public static string DefaultText(ConfigField field)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (field.Kind == Secret)
        {
            return "none";
        }

        var value = Display(s_defaults, field);
        return value.Length == 0 ? "empty" : value.Replace('\n', ',');
    }

    public static JsonObject ToJson(TenantConfig config) => JsonSerializer.SerializeToNode(config, PlatformJson.Options)!.AsObject();

    /// <summary>
    /// Builds the config from posted form values; per-field input errors (a non-number in a number
    /// field) are returned rather than guessed around. The result still goes through the silo's validator.
    /// </summary>
    public static (TenantConfig? Config, Dictionary<string, string> Errors) FromForm(Func<string, string?> form, bool webhookHadSecret)
    {
        ArgumentNullException.ThrowIfNull(form);
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var root = new JsonObject();
        foreach (var field in All)
        {
            var raw = form(field.FormName);
            JsonNode? value;
            switch (field.Kind)
            {
                case WholeNumber:
                    if (!int.TryParse(raw?.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                    {
                        errors[field.Path] = "Enter a whole number.";
                        number = 0;
                    }

                    value = number;
                    break;
                case Switch:
                    // A checked box posts its hidden "false" and its "true" together ("false,true"): any "true" wins.
                    value = (raw ?? "").Split(',', StringSplitOptions.TrimEntries).Any(v => v is "true" or "on");
                    break;
                case Lines when field.Path == "listeners" && SplitLines(raw).Length == 0:
                    // No list is the automatic choice; an empty list would accept no client at all.
                    value = null;
                    break;
                case Lines:
                    value = new JsonArray(SplitLines(raw).Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
                    break;
                case CommaList:
                    value = string.Join(", ", SplitLines(raw).SelectMany(l => l.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)));
                    break;
                case Secret:
                    value = string.IsNullOrEmpty(raw) ? null : raw;
                    break;
                case Text when field.Path == "framing.eol":
                    value = Unescape(raw ?? "");
                    break;
                case Multiline:
                    value = (raw ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
                    break;
                default:
                    value = (raw ?? "").Trim();
                    break;
            }

            Set(root, field.Path, value);
        }

        var delivery = root["delivery"]!.AsObject();
        var mode = delivery["mode"]?.GetValue<string>();
        // The optional targets are sent only when used or filled in, so an echo tenant does not fail on an empty forward host.
        if (mode != DeliveryModes.Forward && string.IsNullOrEmpty(delivery["forward"]?["host"]?.GetValue<string>()))
        {
            delivery.Remove("forward");
            RemoveErrors(errors, "delivery.forward.");
        }

        if (mode != DeliveryModes.Webhook && string.IsNullOrEmpty(delivery["webhook"]?["url"]?.GetValue<string>()))
        {
            delivery.Remove("webhook");
            RemoveErrors(errors, "delivery.webhook.");
        }
        else if (delivery["webhook"] is JsonObject webhook)
        {
            webhook["hasSecret"] = webhookHadSecret;
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (root.Deserialize<TenantConfig>(PlatformJson.Options), errors);
    }

    private static void RemoveErrors(Dictionary<string, string> errors, string prefix)
    {
        foreach (var key in errors.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
        {
            errors.Remove(key);
        }
    }

    private static string[] SplitLines(string? raw) =>
        (raw ?? "").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static JsonNode? Find(JsonObject root, string path)
    {
        JsonNode? node = root;
        foreach (var part in path.Split('.'))
        {
            node = node is JsonObject o && o.TryGetPropertyValue(part, out var child) ? child : null;
        }

        return node;
    }

    private static void Set(JsonObject root, string path, JsonNode? value)
    {
        var parts = path.Split('.');
        var current = root;
        foreach (var part in parts[..^1])
        {
            if (current[part] is not JsonObject next)
            {
                next = new JsonObject();
                current[part] = next;
            }

            current = next;
        }

        current[parts[^1]] = value;
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);

    private static string Unescape(string value) => value.Replace("\\r", "\r", StringComparison.Ordinal)
        .Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);

    private static ConfigField F(string path, string section, string label, ConfigFieldKind kind, string limits, IReadOnlyList<string>? choices = null) =>
        new(path, section, label, kind, "", limits, choices);
}
