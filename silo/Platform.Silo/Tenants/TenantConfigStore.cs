using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Egress;
using Platform.Contracts.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Tenants;

/// <summary>
/// Rows of <c>tenant_configs</c>. The stored JSON never holds the webhook secret: the secret lives
/// encrypted in its own column, bound to the tenant, and is only ever decrypted for gateways.
/// </summary>
internal static class TenantConfigStore
{
    public static Task InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, long revision, TenantConfig config,
        byte[]? webhookSecretEnc, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var stored = WithoutSecret(config, webhookSecretEnc is not null);
        return connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO tenant_configs (tenant_id, revision, config, webhook_secret_enc, actor, created_at)
            VALUES (@tenantId, @revision, @config::jsonb, @webhookSecretEnc, @actor, @now)
            """,
            new { tenantId, revision, config = JsonSerializer.Serialize(stored, PlatformJson.Options), webhookSecretEnc, actor, now },
            transaction, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Makes <paramref name="revision"/> the tenant's current configuration and the revision gateways see;
    /// <paramref name="maxConnections"/> is the effective value (the configuration's capped by the plan) leases are granted against.
    /// </summary>
    public static async Task SetCurrentAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, long revision, int maxConnections,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE tenants
            SET config_revision = @revision, revision = @revision, max_connections = @maxConnections, updated_at = @now
            WHERE id = @tenantId
            """,
            new { tenantId, revision, maxConnections, now }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
        }
    }

    /// <summary>
    /// Stamps the tenant with <paramref name="revision"/> after a change of its plan, with the effective MaxConnections
    /// leases are granted against from now on. The caller queues the watch notification.
    /// </summary>
    public static async Task StampEffectiveAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, long revision, int maxConnections,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE tenants SET revision = @revision, max_connections = @maxConnections, updated_at = @now WHERE id = @tenantId",
            new { tenantId, revision, maxConnections, now }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Tenant {tenantId} vanished inside its own transaction.");
        }
    }

    /// <summary>
    /// The tenant's configuration at <paramref name="revision"/> as stored, secret removed, as JSON: not read into
    /// <see cref="TenantConfig"/> here, so that a tenant grain activates (and serves everything but its configuration)
    /// also when a silo of a newer release stored members this one does not know; <c>TenantState.Config()</c> reads it
    /// strictly where it is needed.
    /// </summary>
    public static async Task<string?> GetJsonAsync(
        DbConnection connection, DbTransaction? transaction, Guid tenantId, long revision, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<ConfigRow>(new CommandDefinition(
            """
            SELECT config::text AS Config, webhook_secret_enc IS NOT NULL AS HasSecret
            FROM tenant_configs WHERE tenant_id = @tenantId AND revision = @revision
            """,
            new { tenantId, revision }, transaction, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        var config = JsonNode.Parse(row.Config) as JsonObject
            ?? throw new InvalidOperationException($"Tenant {tenantId} has no configuration object at revision {revision}.");
        if (config["delivery"]?["webhook"] is JsonObject webhook)
        {
            // As WithoutSecret: the secret lives encrypted in its own column; the configuration says only whether there is one.
            webhook["secret"] = null;
            webhook["hasSecret"] = row.HasSecret;
        }

        return config.ToJsonString();
    }

    public static Task<byte[]?> GetWebhookSecretAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, long revision, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<byte[]?>(new CommandDefinition(
            "SELECT webhook_secret_enc FROM tenant_configs WHERE tenant_id = @tenantId AND revision = @revision",
            new { tenantId, revision }, transaction, cancellationToken: cancellationToken));

    /// <summary>
    /// The secret column for a new revision: a new secret is encrypted, null keeps the previous one,
    /// and a configuration without a webhook has none.
    /// </summary>
    public static byte[]? NextWebhookSecret(SecretProtector protector, Guid tenantId, TenantConfig config, byte[]? previous)
    {
        if (config.Delivery.Webhook is not { } webhook)
        {
            return null;
        }

        return webhook.Secret is { } secret ? protector.Protect(secret, SecretPurposes.WebhookSecret, tenantId) : previous;
    }

    public static TenantConfig WithoutSecret(TenantConfig config, bool hasSecret) =>
        config.Delivery.Webhook is { } webhook
            ? config with { Delivery = config.Delivery with { Webhook = webhook with { Secret = null, HasSecret = hasSecret } } }
            : config;

    /// <summary>
    /// Validates a whole configuration; field paths carry <paramref name="prefix"/>. A forward host or webhook URL host that
    /// is a literal address (any numeric form) or a localhost name must pass <paramref name="egress"/>; host names are
    /// not resolved here, the gateways check what they resolve to when they connect.
    /// </summary>
    public static List<FieldError> Validate(TenantConfig? config, string prefix, string platformDomain, EgressPolicy egress)
    {
        if (config is null)
        {
            return [new FieldError(Root(prefix), FieldErrorCodes.Required, "A configuration is required.")];
        }

        var errors = TenantConfigValidator.Validate(config).Select(e => e with { Field = prefix + e.Field }).ToList();
        if (errors.Count == 0 && JsonSerializer.Serialize(config, PlatformJson.Options).Contains("\\u0000", StringComparison.Ordinal))
        {
            // jsonb cannot hold U+0000, so a configuration containing it could never be stored.
            var field = config.Framing.Eol.Contains('\0', StringComparison.Ordinal) ? $"{prefix}framing.eol" : Root(prefix);
            errors.Add(new FieldError(field, FieldErrorCodes.InvalidFormat, "The character U+0000 is not supported."));
        }

        ValidateEgress(errors, config.Delivery, prefix, egress);

        if (config.HostNames is null)
        {
            return errors;
        }

        // Names under the platform domain belong to slugs; a custom name there could squat another tenant's slug.
        for (var i = 0; i < config.HostNames.Count; i++)
        {
            var name = config.HostNames[i];
            if (name is not null && (string.Equals(name, platformDomain, StringComparison.OrdinalIgnoreCase)
                || name.EndsWith("." + platformDomain, StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add(new FieldError($"{prefix}hostNames[{i}]", FieldErrorCodes.InvalidFormat,
                    $"Names under {platformDomain} are reserved for tenant slugs."));
            }
        }

        return errors;
    }

    private static void ValidateEgress(List<FieldError> errors, DeliveryConfig? delivery, string prefix, EgressPolicy egress)
    {
        var forwardField = $"{prefix}delivery.forward.host";
        if (delivery?.Forward is { Host: { Length: > 0 } host } && !errors.Exists(e => e.Field == forwardField))
        {
            CheckTarget(errors, forwardField, EgressHost.Parse(host), egress);
        }

        var webhookField = $"{prefix}delivery.webhook.url";
        if (delivery?.Webhook is { Url: { Length: > 0 } url } && !errors.Exists(e => e.Field == webhookField)
            && Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            // The host as an HTTP client will connect to it: .NET has already turned numeric IPv4 forms into dotted quads.
            CheckTarget(errors, webhookField, EgressHost.Parse(uri.IdnHost), egress);
        }
    }

    private static void CheckTarget(List<FieldError> errors, string field, EgressHost host, EgressPolicy egress)
    {
        if (host.Kind == EgressHostKind.Invalid)
        {
            errors.Add(new FieldError(field, FieldErrorCodes.InvalidFormat,
                "Not a host name or IP address (a host whose last label is a number must be a whole IPv4 address)."));
            return;
        }

        if (egress.Evaluate(host) is { Allowed: false } verdict)
        {
            errors.Add(new FieldError(field, FieldErrorCodes.TargetForbidden,
                $"The platform does not send tenant traffic to {host} ({Describe(verdict.Class)})."));
        }
    }

    private static string Describe(EgressAddressClass kind) => kind switch
    {
        EgressAddressClass.Public => "an address the operator has denied",
        EgressAddressClass.Unspecified => "the unspecified address",
        EgressAddressClass.ThisNetwork => "\"this network\" 0.0.0.0/8",
        EgressAddressClass.Loopback => "loopback",
        EgressAddressClass.Private => "a private network address",
        EgressAddressClass.SharedAddressSpace => "carrier-grade NAT space",
        EgressAddressClass.LinkLocal => "link-local, including cloud metadata",
        EgressAddressClass.ProtocolAssignments => "IETF protocol assignments",
        EgressAddressClass.Documentation => "a documentation range",
        EgressAddressClass.Benchmarking => "a benchmarking range",
        EgressAddressClass.UniqueLocal => "unique-local IPv6",
        EgressAddressClass.SiteLocal => "site-local IPv6",
        EgressAddressClass.Multicast => "multicast",
        EgressAddressClass.Broadcast => "broadcast",
        _ => "a reserved range",
    };

    /// <summary>The request field that introduced a host name another tenant already claims.</summary>
    public static string ConflictField(string conflict, string slug, string platformDomain, TenantConfig config, string prefix)
    {
        if (string.Equals(conflict, $"{slug}.{platformDomain}", StringComparison.OrdinalIgnoreCase))
        {
            return "slug";
        }

        for (var i = 0; i < config.HostNames.Count; i++)
        {
            if (string.Equals(config.HostNames[i], conflict, StringComparison.OrdinalIgnoreCase))
            {
                return $"{prefix}hostNames[{i}]";
            }
        }

        return $"{prefix}hostNames";
    }

    private static string Root(string prefix) => prefix.TrimEnd('.') is { Length: > 0 } p ? p : "config";

    private sealed class ConfigRow
    {
        public string Config { get; init; } = "";
        public bool HasSecret { get; init; }
    }
}
