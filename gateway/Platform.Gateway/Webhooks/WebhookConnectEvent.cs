using System.Globalization;
using System.Net;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// The <c>connect</c> event (docs/webhook-delivery.md): its JSON body, and the reading of the webhook's answer. Every
/// field of an answer is checked; an answer that breaks a rule is no answer (<see cref="WebhookFailures.InvalidAnswer"/>),
/// so the tenant's <c>connectDefault</c> applies rather than a guess.
/// </summary>
internal static class WebhookConnectEvent
{
    /// <summary>The value of <c>Platform-Event-Type</c> and of the body's <c>type</c>.</summary>
    public const string Type = "connect";

    /// <summary>Most metadata entries an answer may attach.</summary>
    public const int MaxMetadataEntries = ConnectionMetadata.MaxEntries;

    /// <summary>Longest metadata key.</summary>
    public const int MaxMetadataKeyLength = ConnectionMetadata.MaxKeyLength;

    /// <summary>Longest metadata value.</summary>
    public const int MaxMetadataValueLength = ConnectionMetadata.MaxValueLength;

    /// <summary>Longest reason shown to a refused client.</summary>
    public const int MaxReasonLength = 200;

    /// <summary>The event's body.</summary>
    public static byte[] Body(string eventId, string tenant, ConnectionFacts facts, DateTimeOffset at)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("type", Type);
            json.WriteString("id", eventId);
            json.WriteString("tenant", tenant);
            json.WriteString("time", at);
            json.WriteString("connectionId", facts.ConnectionId);
            json.WriteString("protocol", facts.Listener);
            var client = facts.Client.Address.IsIPv4MappedToIPv6 ? facts.Client.Address.MapToIPv4() : facts.Client.Address;
            json.WriteString("remoteAddress", client.ToString());
            json.WriteNumber("remotePort", facts.Client.Port);
            json.WriteNumber("localPort", facts.Local.Port);
            if (facts.Authority is { } authority)
            {
                json.WriteString("host", authority);
            }

            if (facts.Tls is { } tls)
            {
                json.WritePropertyName("tls");
                JsonSerializer.Serialize(json, tls, PlatformJson.Options);
            }

            if (facts.Request is { } request)
            {
                json.WriteStartObject("webSocket");
                json.WriteString("path", request.Path);
                if (request.Query is { } query)
                {
                    json.WriteString("query", query);
                }

                json.WriteString("host", request.Host);
                if (request.Origin is { } origin)
                {
                    json.WriteString("origin", origin);
                }

                json.WriteStartArray("subProtocols");
                foreach (var offered in request.SubProtocols)
                {
                    json.WriteStringValue(offered);
                }

                json.WriteEndArray();
                json.WriteStartArray("headers");
                foreach (var (name, value) in request.Headers)
                {
                    json.WriteStartArray();
                    json.WriteStringValue(name);
                    json.WriteStringValue(value);
                    json.WriteEndArray();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>Reads the webhook's answer to the connect event of a client that offered <paramref name="offered"/>.</summary>
    public static ConnectDecision Read(WebhookAnswer answer, IReadOnlyList<string> offered)
    {
        if (answer.Failure is { } failure)
        {
            return ConnectDecision.Unusable(failure);
        }

        if (answer.Status is >= 400 and < 500)
        {
            // A refusal by status: the reason, when the body names one, goes to the client.
            return ConnectDecision.Rejected(answer.Status, TryReason(answer.Body));
        }

        if (answer.Status is < 200 or >= 300)
        {
            return ConnectDecision.Unusable("status_" + answer.Status.ToString(CultureInfo.InvariantCulture));
        }

        if (answer.Body.Length == 0)
        {
            return ConnectDecision.Accepted();
        }

        try
        {
            using var document = JsonDocument.Parse(answer.Body, new JsonDocumentOptions { MaxDepth = 8 });
            return Decide(document.RootElement, offered) ?? ConnectDecision.Unusable(WebhookFailures.InvalidAnswer);
        }
        catch (JsonException)
        {
            return ConnectDecision.Unusable(WebhookFailures.InvalidAnswer);
        }
    }

    private static ConnectDecision? Decide(JsonElement root, IReadOnlyList<string> offered)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var accept = true;
        if (root.TryGetProperty("accept", out var acceptElement))
        {
            if (acceptElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return null;
            }

            accept = acceptElement.GetBoolean();
        }

        if (!accept)
        {
            var status = 403;
            if (root.TryGetProperty("status", out var statusElement)
                && (!statusElement.TryGetInt32(out status) || status is < 400 or > 499))
            {
                return null;
            }

            var reason = Reason(root);
            return reason.Valid ? ConnectDecision.Rejected(status, reason.Value) : null;
        }

        string? subProtocol = null;
        if (root.TryGetProperty("subProtocol", out var chosen) && chosen.ValueKind != JsonValueKind.Null)
        {
            // Only one the client offered: a WebSocket client fails a 101 that names any other (RFC 6455 section 4.1).
            if (chosen.ValueKind != JsonValueKind.String || !offered.Contains(chosen.GetString()!, StringComparer.Ordinal))
            {
                return null;
            }

            subProtocol = chosen.GetString();
        }

        ForwardConfig? forward = null;
        if (root.TryGetProperty("forward", out var target) && target.ValueKind != JsonValueKind.Null)
        {
            forward = Forward(target);
            if (forward is null)
            {
                return null;
            }
        }

        Dictionary<string, string>? metadata = null;
        if (root.TryGetProperty("metadata", out var entries) && entries.ValueKind != JsonValueKind.Null)
        {
            metadata = Metadata(entries);
            if (metadata is null)
            {
                return null;
            }
        }

        return ConnectDecision.Accepted(subProtocol, forward, metadata);
    }

    /// <summary>A forward override: host and port, protocol <c>tcp</c> (default) or <c>tls</c>; the rest of the tenant's forward settings apply.</summary>
    private static ForwardConfig? Forward(JsonElement target)
    {
        if (target.ValueKind != JsonValueKind.Object
            || !target.TryGetProperty("host", out var hostElement) || hostElement.ValueKind != JsonValueKind.String
            || !target.TryGetProperty("port", out var portElement) || !portElement.TryGetInt32(out var port) || port is < 1 or > 65535)
        {
            return null;
        }

        var host = hostElement.GetString()!;
        if (host.Length is 0 or > 253 || !(IPAddress.TryParse(host, out _) || Names.IsValidHostName(host)))
        {
            return null;
        }

        var protocol = ForwardProtocols.Tcp;
        if (target.TryGetProperty("protocol", out var protocolElement))
        {
            protocol = protocolElement.GetString() ?? "";
            if (protocol is not (ForwardProtocols.Tcp or ForwardProtocols.Tls))
            {
                return null;
            }
        }

        return new ForwardConfig { Host = host, Port = port, Protocol = protocol };
    }

    private static Dictionary<string, string>? Metadata(JsonElement entries)
    {
        if (entries.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in entries.EnumerateObject())
        {
            if (metadata.Count == MaxMetadataEntries || !IsKey(entry.Name) || entry.Value.ValueKind != JsonValueKind.String
                || !ConnectionMetadata.IsValidValue(entry.Value.GetString()) || !metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                return null;
            }
        }

        return metadata;
    }

    private static bool IsKey(string key) => ConnectionMetadata.IsValidKey(key);

    private static (bool Valid, string? Value) Reason(JsonElement root)
    {
        if (!root.TryGetProperty("reason", out var reason) || reason.ValueKind == JsonValueKind.Null)
        {
            return (true, null);
        }

        return reason.ValueKind == JsonValueKind.String && reason.GetString()!.Length <= MaxReasonLength && !reason.GetString()!.Any(char.IsControl)
            ? (true, reason.GetString())
            : (false, null);
    }

    private static string? TryReason(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
            return document.RootElement.ValueKind == JsonValueKind.Object && Reason(document.RootElement) is { Valid: true } reason ? reason.Value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
