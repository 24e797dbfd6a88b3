using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Contracts.Problems;

namespace Platform.Contracts.Config;

/// <summary>Validates a whole <see cref="TenantConfig"/>; every failure is reported with its field path.</summary>
public static class TenantConfigValidator
{
    /// <summary>Most custom host names per tenant.</summary>
    public const int MaxHostNames = 100;
    /// <summary>Most entries in a list such as origins or sub-protocols.</summary>
    public const int MaxListEntries = 64;
    /// <summary>Longest short string such as an origin, a sub-protocol or a forward host.</summary>
    public const int MaxShortString = 253;
    /// <summary>Largest client CA bundle in characters.</summary>
    public const int MaxCaBundleLength = 256 * 1024;
    /// <summary>Largest WebSocket message size a tenant may allow.</summary>
    public const int MaxWebSocketMessageSize = 16 * 1024 * 1024;

    /// <summary>Returns every validation failure of <paramref name="config"/>; empty when valid.</summary>
    public static IReadOnlyList<FieldError> Validate(TenantConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var errors = new List<FieldError>();

        Required(errors, "limits", config.Limits);
        Required(errors, "access", config.Access);
        Required(errors, "timeouts", config.Timeouts);
        Required(errors, "tls", config.Tls);
        Required(errors, "webSocket", config.WebSocket);
        Required(errors, "socket", config.Socket);
        Required(errors, "dtls", config.Dtls);
        Required(errors, "framing", config.Framing);
        Required(errors, "delivery", config.Delivery);
        Required(errors, "hostNames", config.HostNames);
        if (errors.Count > 0)
        {
            return errors;
        }

        var l = config.Limits;
        Range(errors, "limits.maxConnections", l.MaxConnections, 1, LimitsConfig.MaxMaxConnections);
        Range(errors, "limits.connectionsPerSecond", l.ConnectionsPerSecond, 0, 100_000);
        Range(errors, "limits.maxConnectionsPerClient", l.MaxConnectionsPerClient, 0, LimitsConfig.MaxMaxConnections);
        Range(errors, "limits.maxHalfOpenHandshakes", l.MaxHalfOpenHandshakes, 1, 100_000);
        Range(errors, "limits.maxHalfOpenHandshakesPerClient", l.MaxHalfOpenHandshakesPerClient, 1, 10_000);

        ClientListField(errors, "access.allowedClients", config.Access.AllowedClients);
        ClientListField(errors, "access.blockedClients", config.Access.BlockedClients);

        Range(errors, "timeouts.idleTimeoutSeconds", config.Timeouts.IdleTimeoutSeconds, 0, TimeoutsConfig.MaxIdleTimeoutSeconds);
        Range(errors, "timeouts.dtlsIdleTimeoutSeconds", config.Timeouts.DtlsIdleTimeoutSeconds, 1, TimeoutsConfig.MaxIdleTimeoutSeconds);
        Range(errors, "timeouts.handshakeTimeoutSeconds", config.Timeouts.HandshakeTimeoutSeconds, 1, 300);

        ValidateTls(errors, config.Tls);
        ValidateWebSocket(errors, config.WebSocket);

        var s = config.Socket;
        Range(errors, "socket.keepAliveTimeSeconds", s.KeepAliveTimeSeconds, 1, 7200);
        Range(errors, "socket.keepAliveIntervalSeconds", s.KeepAliveIntervalSeconds, 1, 600);

        ValidateDtls(errors, config.Dtls);
        ValidateFraming(errors, config.Framing);
        ValidateDelivery(errors, config.Delivery);
        ValidateListeners(errors, config.Listeners);

        if (config.HostNames.Count > MaxHostNames)
        {
            errors.Add(new("hostNames", FieldErrorCodes.TooLong, $"At most {MaxHostNames} host names."));
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < config.HostNames.Count; i++)
        {
            var name = config.HostNames[i];
            if (!Names.IsValidHostName(name, allowWildcard: true))
            {
                errors.Add(new($"hostNames[{i}]", FieldErrorCodes.InvalidFormat, "Not a valid DNS host name (a leading '*.' label is allowed)."));
            }
            else if (!seen.Add(name))
            {
                errors.Add(new($"hostNames[{i}]", FieldErrorCodes.Duplicate, "Host name listed twice."));
            }
        }

        return errors;
    }

    private static void ValidateTls(List<FieldError> errors, TlsConfig tls)
    {
        Choice(errors, "tls.minProtocol", tls.MinProtocol, TlsProtocols.Tls12, TlsProtocols.Tls13);
        Choice(errors, "tls.clientCertificates", tls.ClientCertificates,
            ClientCertificateModes.None, ClientCertificateModes.Optional, ClientCertificateModes.Required);
        if (tls.CipherSuites is null)
        {
            errors.Add(new("tls.cipherSuites", FieldErrorCodes.Required, "Use an empty list for the default set."));
        }
        else
        {
            ListLength(errors, "tls.cipherSuites", tls.CipherSuites.Count);
            for (var i = 0; i < tls.CipherSuites.Count; i++)
            {
                if (!Enum.TryParse<TlsCipherSuite>(tls.CipherSuites[i], ignoreCase: false, out _)
                    || int.TryParse(tls.CipherSuites[i], out _))
                {
                    errors.Add(new($"tls.cipherSuites[{i}]", FieldErrorCodes.InvalidChoice, "Not an IANA TLS cipher suite name."));
                }
            }
        }

        if (tls.ClientCaCertificates is null)
        {
            errors.Add(new("tls.clientCaCertificates", FieldErrorCodes.Required, "Use an empty string for none."));
            return;
        }

        if (tls.ClientCaCertificates.Length > MaxCaBundleLength)
        {
            errors.Add(new("tls.clientCaCertificates", FieldErrorCodes.TooLong, $"At most {MaxCaBundleLength} characters."));
        }
        else if (tls.ClientCaCertificates.Length > 0)
        {
            var collection = new X509Certificate2Collection();
            try
            {
                collection.ImportFromPem(tls.ClientCaCertificates);
            }
            catch (CryptographicException)
            {
                collection.Clear();
            }

            if (collection.Count == 0)
            {
                errors.Add(new("tls.clientCaCertificates", FieldErrorCodes.InvalidFormat, "Not a PEM bundle of X.509 certificates."));
            }

            foreach (var cert in collection)
            {
                cert.Dispose();
            }
        }

        if (tls.ClientCertificates != ClientCertificateModes.None && string.IsNullOrEmpty(tls.ClientCaCertificates))
        {
            errors.Add(new("tls.clientCaCertificates", FieldErrorCodes.Required, "Client certificate authentication needs at least one client CA certificate."));
        }
    }

    /// <summary>
    /// Settings that are valid but weaken the tenant's own policy, to be shown beside a successful write: plain
    /// listeners listed explicitly while client certificates are required.
    /// </summary>
    public static IReadOnlyList<FieldError> Warnings(TenantConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var warnings = new List<FieldError>();
        if (config.Listeners is { } listeners && config.Tls?.ClientCertificates == ClientCertificateModes.Required)
        {
            for (var i = 0; i < listeners.Count; i++)
            {
                if (ListenerProtocols.Plain.Contains(listeners[i], StringComparer.Ordinal))
                {
                    warnings.Add(new($"listeners[{i}]", WarningCodes.PlainListenerWithClientCertificates,
                        $"Clients on '{listeners[i]}' connect without TLS, so tls.clientCertificates = required does not apply to them."));
                }
            }
        }

        return warnings;
    }

    private static void ValidateListeners(List<FieldError> errors, IReadOnlyList<string>? listeners)
    {
        if (listeners is null)
        {
            return;
        }

        if (listeners.Count == 0)
        {
            errors.Add(new("listeners", FieldErrorCodes.Required, "List at least one listener kind, or omit the field for the default."));
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < listeners.Count; i++)
        {
            var value = listeners[i];
            if (value is null || !ListenerProtocols.All.Contains(value, StringComparer.Ordinal))
            {
                errors.Add(new($"listeners[{i}]", FieldErrorCodes.InvalidChoice, $"Must be one of: {string.Join(", ", ListenerProtocols.All)}."));
            }
            else if (!seen.Add(value))
            {
                errors.Add(new($"listeners[{i}]", FieldErrorCodes.Duplicate, "Listener kind listed twice."));
            }
        }
    }

    private static void ValidateWebSocket(List<FieldError> errors, WebSocketConfig ws)
    {
        if (ws.AllowedOrigins is null)
        {
            errors.Add(new("webSocket.allowedOrigins", FieldErrorCodes.Required, "Use an empty list to allow any origin."));
        }
        else
        {
            ListLength(errors, "webSocket.allowedOrigins", ws.AllowedOrigins.Count);
            for (var i = 0; i < ws.AllowedOrigins.Count; i++)
            {
                if (!IsOriginPattern(ws.AllowedOrigins[i]))
                {
                    errors.Add(new($"webSocket.allowedOrigins[{i}]", FieldErrorCodes.InvalidFormat,
                        "An origin is scheme://host[:port], and the host may start with '*.'."));
                }
            }
        }

        if (ws.SubProtocols is null)
        {
            errors.Add(new("webSocket.subProtocols", FieldErrorCodes.Required, "Use an empty list for none."));
        }
        else
        {
            ListLength(errors, "webSocket.subProtocols", ws.SubProtocols.Count);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < ws.SubProtocols.Count; i++)
            {
                var p = ws.SubProtocols[i];
                if (string.IsNullOrEmpty(p) || p.Length > 128 || !p.All(IsTokenChar))
                {
                    errors.Add(new($"webSocket.subProtocols[{i}]", FieldErrorCodes.InvalidFormat, "A sub-protocol is an HTTP token of 1..128 characters."));
                }
                else if (!seen.Add(p))
                {
                    errors.Add(new($"webSocket.subProtocols[{i}]", FieldErrorCodes.Duplicate, "Sub-protocol listed twice."));
                }
            }
        }

        Range(errors, "webSocket.maxMessageSize", ws.MaxMessageSize, 125, MaxWebSocketMessageSize);
        Range(errors, "webSocket.pingIntervalSeconds", ws.PingIntervalSeconds, 0, 3600);
        Range(errors, "webSocket.pongTimeoutSeconds", ws.PongTimeoutSeconds, 1, 600);
    }

    private static void ValidateDtls(List<FieldError> errors, DtlsConfig dtls)
    {
        if (dtls.HeartbeatIntervalSeconds != 0)
        {
            Range(errors, "dtls.heartbeatIntervalSeconds", dtls.HeartbeatIntervalSeconds,
                DtlsConfig.MinHeartbeatIntervalSeconds, DtlsConfig.MaxHeartbeatIntervalSeconds, "0 (off) or ");
        }

        var timeoutInRange = dtls.HeartbeatTimeoutSeconds is >= 1 and <= DtlsConfig.MaxHeartbeatTimeoutSeconds;
        Range(errors, "dtls.heartbeatTimeoutSeconds", dtls.HeartbeatTimeoutSeconds, 1, DtlsConfig.MaxHeartbeatTimeoutSeconds);
        if (timeoutInRange && dtls.HeartbeatIntervalSeconds is >= DtlsConfig.MinHeartbeatIntervalSeconds and <= DtlsConfig.MaxHeartbeatIntervalSeconds
            && dtls.HeartbeatTimeoutSeconds > dtls.HeartbeatIntervalSeconds)
        {
            errors.Add(new("dtls.heartbeatTimeoutSeconds", FieldErrorCodes.Inconsistent,
                $"The heartbeat timeout must not exceed dtls.heartbeatIntervalSeconds ({dtls.HeartbeatIntervalSeconds})."));
        }

        Required(errors, "dtls.connectionIds", dtls.ConnectionIds);
        Required(errors, "dtls.rawPublicKeys", dtls.RawPublicKeys);
        if (dtls.ConnectionIds is { } cid)
        {
            Range(errors, "dtls.connectionIds.length", cid.Length, DtlsConnectionIdConfig.MinLength, DtlsConnectionIdConfig.MaxLength);
        }
    }

    private static void ValidateFraming(List<FieldError> errors, FramingConfig f)
    {
        Choice(errors, "framing.mode", f.Mode, FramingModes.None, FramingModes.Line, FramingModes.Record);
        if (string.IsNullOrEmpty(f.Eol) || f.Eol.Length > 16)
        {
            errors.Add(new("framing.eol", FieldErrorCodes.InvalidFormat, "EOL is 1..16 characters."));
        }

        Range(errors, "framing.maxLineLength", f.MaxLineLength, FramingConfig.MinMaxLineLength, 1_048_576);
        if (f.Mode == FramingModes.Record)
        {
            Range(errors, "framing.recordLength", f.RecordLength, 1, 1_048_576);
        }
        else
        {
            Range(errors, "framing.recordLength", f.RecordLength, 0, 1_048_576);
        }
    }

    private static void ValidateDelivery(List<FieldError> errors, DeliveryConfig d)
    {
        Choice(errors, "delivery.mode", d.Mode, DeliveryModes.Echo, DeliveryModes.Forward, DeliveryModes.Webhook);
        if (d.Mode == DeliveryModes.Forward && d.Forward is null)
        {
            errors.Add(new("delivery.forward", FieldErrorCodes.Required, "Forward delivery needs a forward target."));
        }

        if (d.Mode == DeliveryModes.Webhook && d.Webhook is null)
        {
            errors.Add(new("delivery.webhook", FieldErrorCodes.Required, "Webhook delivery needs a webhook target."));
        }

        if (d.Forward is { } fw)
        {
            if (string.IsNullOrEmpty(fw.Host))
            {
                errors.Add(new("delivery.forward.host", FieldErrorCodes.Required, "A forward host is required."));
            }
            else if (fw.Host.Length > MaxShortString
                || !(System.Net.IPAddress.TryParse(fw.Host, out _) || Names.IsValidHostName(fw.Host) || fw.Host == "localhost"))
            {
                errors.Add(new("delivery.forward.host", FieldErrorCodes.InvalidFormat, "Not a host name or IP address."));
            }

            Range(errors, "delivery.forward.port", fw.Port, 1, 65535);
            Choice(errors, "delivery.forward.protocol", fw.Protocol, ForwardProtocols.Tcp, ForwardProtocols.Tls, ForwardProtocols.Udp);
            Range(errors, "delivery.forward.connectTimeoutSeconds", fw.ConnectTimeoutSeconds, 1, 60);
            Choice(errors, "delivery.forward.messageFraming", fw.MessageFraming, MessageFramings.Raw, MessageFramings.Line, MessageFramings.LengthPrefix, MessageFramings.LengthPrefix16);
            Choice(errors, "delivery.forward.backendMessageType", fw.BackendMessageType, BackendMessageTypes.Binary, BackendMessageTypes.Text);
            Choice(errors, "delivery.forward.proxyProtocol", fw.ProxyProtocol, ProxyProtocolVersions.None, ProxyProtocolVersions.V2);
            if (fw.ProxyProtocol == ProxyProtocolVersions.V2 && fw.Protocol == ForwardProtocols.Udp)
            {
                errors.Add(new("delivery.forward.proxyProtocol", FieldErrorCodes.Inconsistent, "A PROXY protocol header needs a tcp or tls backend."));
            }
        }

        if (d.Webhook is { } wh)
        {
            if (string.IsNullOrEmpty(wh.Url))
            {
                errors.Add(new("delivery.webhook.url", FieldErrorCodes.Required, "A webhook URL is required."));
            }
            else if (wh.Url.Length > 2048 || !Uri.TryCreate(wh.Url, UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || !string.IsNullOrEmpty(uri.UserInfo))
            {
                errors.Add(new("delivery.webhook.url", FieldErrorCodes.InvalidFormat, "An absolute http or https URL without credentials, at most 2048 characters."));
            }

            if (wh.Secret is not null && (wh.Secret.Length < 16 || wh.Secret.Length > 256))
            {
                errors.Add(new("delivery.webhook.secret", FieldErrorCodes.OutOfRange, "The secret is 16..256 characters."));
            }

            Range(errors, "delivery.webhook.timeoutSeconds", wh.TimeoutSeconds, 1, 30);
            Choice(errors, "delivery.webhook.connectDefault", wh.ConnectDefault, WebhookConnectDefaults.Reject, WebhookConnectDefaults.Accept);
            Range(errors, "delivery.webhook.batchMaxMessages", wh.BatchMaxMessages, 1, 1000);
            Range(errors, "delivery.webhook.batchMaxBytes", wh.BatchMaxBytes, 1024, 1_048_576);
            Range(errors, "delivery.webhook.batchDelayMilliseconds", wh.BatchDelayMilliseconds, 0, 1000);
            Range(errors, "delivery.webhook.backpressureTimeoutSeconds", wh.BackpressureTimeoutSeconds, 1, 300);
        }
    }

    private static bool IsOriginPattern(string? origin)
    {
        if (string.IsNullOrEmpty(origin) || origin.Length > MaxShortString)
        {
            return false;
        }

        var schemeEnd = origin.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            return false;
        }

        var scheme = origin[..schemeEnd];
        if (!scheme.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '+' or '-' or '.'))
        {
            return false;
        }

        var rest = origin[(schemeEnd + 3)..];
        var colon = rest.LastIndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(rest[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
                || port is < 1 or > 65535)
            {
                return false;
            }

            rest = rest[..colon];
        }

        return rest == "localhost" || System.Net.IPAddress.TryParse(rest, out _) || Names.IsValidHostName(rest, allowWildcard: true);
    }

    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);

    private static void ClientListField(List<FieldError> errors, string field, string? value)
    {
        if (value is null)
        {
            errors.Add(new(field, FieldErrorCodes.Required, "Use an empty string for an empty list."));
        }
        else if (!ClientList.TryParse(value, out _, out var error))
        {
            errors.Add(new(field, FieldErrorCodes.InvalidFormat, error!));
        }
    }

    private static void Required(List<FieldError> errors, string field, object? value)
    {
        if (value is null)
        {
            errors.Add(new(field, FieldErrorCodes.Required, "This section is required."));
        }
    }

    private static void Range(List<FieldError> errors, string field, int value, int min, int max, string alternative = "")
    {
        if (value < min || value > max)
        {
            errors.Add(new(field, FieldErrorCodes.OutOfRange, $"Must be {alternative}between {min} and {max}."));
        }
    }

    private static void ListLength(List<FieldError> errors, string field, int count)
    {
        if (count > MaxListEntries)
        {
            errors.Add(new(field, FieldErrorCodes.TooLong, $"At most {MaxListEntries} entries."));
        }
    }

    private static void Choice(List<FieldError> errors, string field, string? value, params string[] allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.Ordinal))
        {
            errors.Add(new(field, FieldErrorCodes.InvalidChoice, $"Must be one of: {string.Join(", ", allowed)}."));
        }
    }
}
