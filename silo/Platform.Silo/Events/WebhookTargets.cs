using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json;
using Dapper;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Silo.Security;

namespace Platform.Silo.Events;

/// <summary>
/// Reads a tenant's webhook settings from its current configuration. The signing secrets come from the stored
/// revisions: the current revision's secret, and the secret before it while the current one is younger than
/// <see cref="EventOptions.PreviousSecretHours"/> (counted from the first revision that carried it), so a receiver has
/// that long to switch. Decrypted secrets are cached per tenant and configuration revision, in memory only.
/// </summary>
internal sealed class WebhookTargets(SecretProtector protector, EventOptions options)
{
    private const int RevisionsSearched = 200;

    private readonly ConcurrentDictionary<Guid, (long Revision, string? Secret, string? Previous, DateTimeOffset Since)> _secrets = new();

    public async Task<WebhookTarget?> LoadAsync(DbConnection connection, Guid tenantId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<(string Slug, long Revision, string Config, string? ValidatedUrl)>(new CommandDefinition(
            """
            SELECT t.slug, t.config_revision, c.config::text, s.validated_url
            FROM tenants t
            JOIN tenant_configs c ON c.tenant_id = t.id AND c.revision = t.config_revision
            LEFT JOIN webhook_streams s ON s.tenant_id = t.id
            WHERE t.id = @tenantId
            """,
            new { tenantId }, cancellationToken: cancellationToken));
        if (row.Slug is null)
        {
            return null;
        }

        var webhook = JsonSerializer.Deserialize<TenantConfig>(row.Config, PlatformJson.Tolerant)?.Delivery.Webhook;
        if (webhook is null || !Uri.TryCreate(webhook.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            return new WebhookTarget(row.Slug, null, TimeSpan.Zero, null, null, row.ValidatedUrl, row.Revision);
        }

        var secrets = await SecretsAsync(connection, tenantId, row.Revision, cancellationToken);
        var previous = Previous(secrets)?.At(now);
        return new WebhookTarget(row.Slug, url, TimeSpan.FromSeconds(Math.Clamp(webhook.TimeoutSeconds, 1, 30)), secrets.Secret, previous, row.ValidatedUrl, row.Revision);
    }

    /// <summary>
    /// The secret before the one of configuration <paramref name="revision"/> and until when it signs beside it, for the
    /// gateways' snapshots (they sign their own webhook requests); null when there is none or its time is over.
    /// </summary>
    public async Task<PreviousWebhookSecret?> PreviousAsync(DbConnection connection, Guid tenantId, long revision, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var previous = Previous(await SecretsAsync(connection, tenantId, revision, cancellationToken));
        return previous?.At(now) is null ? null : previous;
    }

    private PreviousWebhookSecret? Previous((long Revision, string? Secret, string? Previous, DateTimeOffset Since) secrets) =>
        secrets.Previous is null ? null : new PreviousWebhookSecret(secrets.Previous, secrets.Since + TimeSpan.FromHours(options.PreviousSecretHours));

    private async Task<(long Revision, string? Secret, string? Previous, DateTimeOffset Since)> SecretsAsync(
        DbConnection connection, Guid tenantId, long revision, CancellationToken cancellationToken)
    {
        if (_secrets.TryGetValue(tenantId, out var cached) && cached.Revision == revision)
        {
            return cached;
        }

        var rows = (await connection.QueryAsync<(byte[]? Secret, DateTime CreatedAt)>(new CommandDefinition(
            """
            SELECT webhook_secret_enc, created_at FROM tenant_configs
            WHERE tenant_id = @tenantId AND revision <= @revision
            ORDER BY revision DESC
            LIMIT @limit
            """,
            new { tenantId, revision, limit = RevisionsSearched }, cancellationToken: cancellationToken))).AsList();
        string? Plain(byte[]? enc) => enc is null ? null : protector.UnprotectString(enc, SecretPurposes.WebhookSecret, tenantId);

        var current = rows.Count == 0 ? null : Plain(rows[0].Secret);
        var since = rows.Count == 0 ? DateTimeOffset.MinValue : Utc(rows[0].CreatedAt);
        string? previous = null;
        for (var i = 1; i < rows.Count && current is not null; i++)
        {
            var plain = rows[i].Secret is { } enc && enc.AsSpan().SequenceEqual(rows[i - 1].Secret) ? current : Plain(rows[i].Secret);
            if (plain != current)
            {
                previous = plain;
                break;
            }

            since = Utc(rows[i].CreatedAt);
        }

        var result = (revision, current, previous, since);
        _secrets[tenantId] = result;
        return result;
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
