using System.Text.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Webhooks;

namespace Platform.Silo.Webhooks;

/// <summary>
/// The gateways' webhook outcomes (migration 0018): hourly counts per tenant, event type and outcome, and per tenant
/// the newest failure and validation outcome. Written from gateway reports, each applied once (its id is kept for a
/// day); read by <c>GET /v1/tenants/{slug}/webhook-status</c>.
/// </summary>
internal static class WebhookStatusStore
{
    public const int MaxCounts = 5000;
    public const int MaxTenants = 5000;

    /// <summary>How long counts are kept.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(93);

    private static readonly TimeSpan ReportIdsKept = TimeSpan.FromDays(1);

    public static List<FieldError> Validate(WebhookReport report)
    {
        var errors = new List<FieldError>();
        if (report.ReportId == Guid.Empty)
        {
            errors.Add(new("reportId", FieldErrorCodes.Required, "A report needs an id."));
        }

        if (report.Counts.Count > MaxCounts || report.Tenants.Count > MaxTenants)
        {
            errors.Add(new("counts", FieldErrorCodes.OutOfRange, $"At most {MaxCounts} counts and {MaxTenants} tenants per report."));
            return errors;
        }

        for (var i = 0; i < report.Counts.Count; i++)
        {
            var delta = report.Counts[i];
            if (delta.Count < 1)
            {
                errors.Add(new($"counts[{i}].count", FieldErrorCodes.OutOfRange, "Must be at least 1."));
            }

            if (!WebhookEventTypes.All.Contains(delta.Event))
            {
                errors.Add(new($"counts[{i}].event", FieldErrorCodes.InvalidChoice, "One of connect, messages."));
            }

            if (delta.Outcome != WebhookOutcomes.Delivered && !WebhookFailureKinds.All.Contains(delta.Outcome))
            {
                errors.Add(new($"counts[{i}].outcome", FieldErrorCodes.InvalidChoice, "delivered or a failure kind (WebhookFailureKinds)."));
            }
        }

        for (var i = 0; i < report.Tenants.Count; i++)
        {
            var facts = report.Tenants[i];
            if (facts.LastFailure is { } failure)
            {
                if (!WebhookEventTypes.All.Contains(failure.Event) || !WebhookFailureKinds.All.Contains(failure.Kind))
                {
                    errors.Add(new($"tenants[{i}].lastFailure", FieldErrorCodes.InvalidChoice, "An event type and a failure kind."));
                }

                if (failure.Cause is { } cause && (failure.Kind != WebhookFailureKinds.NotValidated || !WebhookFailureKinds.ValidationCauses.Contains(cause)))
                {
                    errors.Add(new($"tenants[{i}].lastFailure.cause", FieldErrorCodes.InvalidChoice, "Only for not_validated: timeout or connection_failed."));
                }

                if (failure.Status is < 100 or > 599)
                {
                    errors.Add(new($"tenants[{i}].lastFailure.status", FieldErrorCodes.OutOfRange, "An HTTP status, 100 to 599."));
                }
            }

            if (facts.Validation is { } validation && (validation.UrlHash.Length != 64 || !validation.UrlHash.All(char.IsAsciiHexDigitLower)))
            {
                errors.Add(new($"tenants[{i}].validation.urlHash", FieldErrorCodes.InvalidFormat, "Lower-case hex SHA-256."));
            }
        }

        return errors;
    }

    /// <summary>Applies a report once; false when a report with its id was applied before (nothing is added).</summary>
    public static async Task<bool> ApplyAsync(NpgsqlDataSource dataSource, string gatewayId, WebhookReport report, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var fresh = await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO webhook_reports (report_id, gateway_id, received_at) VALUES (@id, @gatewayId, @now) ON CONFLICT (report_id) DO NOTHING",
            new { id = report.ReportId, gatewayId, now }, transaction, cancellationToken: cancellationToken));
        if (fresh == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM webhook_reports WHERE received_at < @reports;
            DELETE FROM webhook_outcome_hours WHERE hour < @counts;
            """,
            new { reports = now - ReportIdsKept, counts = now - Retention }, transaction, cancellationToken: cancellationToken));

        // Hours from a gateway clock ahead of the silo's land in the silo's current hour; a deleted tenant's counts are dropped.
        var counts = report.Counts;
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO webhook_outcome_hours (tenant_id, hour, event, outcome, count)
            SELECT d.tenant_id, date_trunc('hour', LEAST(d.hour, @now), 'UTC'), d.event, d.outcome, sum(d.count)
            FROM unnest(@tenants::uuid[], @hours::timestamptz[], @events::text[], @outcomes::text[], @counts::bigint[])
                 AS d (tenant_id, hour, event, outcome, count)
            JOIN tenants t ON t.id = d.tenant_id
            GROUP BY 1, 2, 3, 4
            ON CONFLICT (tenant_id, hour, event, outcome) DO UPDATE SET count = webhook_outcome_hours.count + excluded.count
            """,
            new
            {
                now,
                tenants = counts.Select(c => c.TenantId).ToArray(),
                hours = counts.Select(c => c.Hour.UtcDateTime).ToArray(),
                events = counts.Select(c => c.Event).ToArray(),
                outcomes = counts.Select(c => c.Outcome).ToArray(),
                counts = counts.Select(c => c.Count).ToArray(),
            },
            transaction, cancellationToken: cancellationToken));

        foreach (var facts in report.Tenants)
        {
            if (facts.LastFailure is { } failure)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO webhook_states (tenant_id, failure_at, failure_event, failure_kind, failure_status, failure_cause)
                    SELECT id, LEAST(@at, @now), @event, @kind, @status, @cause FROM tenants WHERE id = @tenantId
                    ON CONFLICT (tenant_id) DO UPDATE
                        SET failure_at = excluded.failure_at, failure_event = excluded.failure_event,
                            failure_kind = excluded.failure_kind, failure_status = excluded.failure_status,
                            failure_cause = excluded.failure_cause
                        WHERE webhook_states.failure_at IS NULL OR webhook_states.failure_at <= excluded.failure_at
                    """,
                    new { facts.TenantId, at = failure.At, now, @event = failure.Event, kind = failure.Kind, status = failure.Status, cause = failure.Cause },
                    transaction, cancellationToken: cancellationToken));
            }

            if (facts.Validation is { } validation)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO webhook_states (tenant_id, validation_at, validation_passed, validation_url_hash)
                    SELECT id, LEAST(@at, @now), @passed, @hash FROM tenants WHERE id = @tenantId
                    ON CONFLICT (tenant_id) DO UPDATE
                        SET validation_at = excluded.validation_at, validation_passed = excluded.validation_passed,
                            validation_url_hash = excluded.validation_url_hash
                        WHERE webhook_states.validation_at IS NULL OR webhook_states.validation_at <= excluded.validation_at
                    """,
                    new { facts.TenantId, at = validation.At, now, passed = validation.Passed, hash = validation.UrlHash },
                    transaction, cancellationToken: cancellationToken));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The status of one tenant's webhook for hours starting in [from, to).</summary>
    public static async Task<WebhookStatusResponse> ReadAsync(
        NpgsqlConnection connection, Guid tenantId, string slug, DateTimeOffset from, DateTimeOffset to, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<(string Event, string Outcome, long Count)>(new CommandDefinition(
            """
            SELECT event, outcome, sum(count)::bigint
            FROM webhook_outcome_hours
            WHERE tenant_id = @tenantId AND hour >= @from AND hour < @to
            GROUP BY event, outcome
            """,
            new { tenantId, from, to }, cancellationToken: cancellationToken))).AsList();
        var state = await connection.QuerySingleOrDefaultAsync<StateRow>(new CommandDefinition(
            """
            SELECT c.config::text AS Config, s.failure_at AS FailureAt, s.failure_event AS FailureEvent, s.failure_kind AS FailureKind,
                   s.failure_status AS FailureStatus, s.failure_cause AS FailureCause, s.validation_at AS ValidationAt, s.validation_passed AS ValidationPassed,
                   s.validation_url_hash AS ValidationUrlHash
            FROM tenants t
            JOIN tenant_configs c ON c.tenant_id = t.id AND c.revision = t.config_revision
            LEFT JOIN webhook_states s ON s.tenant_id = t.id
            WHERE t.id = @tenantId
            """,
            new { tenantId }, cancellationToken: cancellationToken));

        var events = WebhookEventTypes.All
            .Select(e => new WebhookEventCounts(
                e,
                rows.Where(r => r.Event == e && r.Outcome == WebhookOutcomes.Delivered).Sum(r => r.Count),
                rows.Where(r => r.Event == e && r.Outcome != WebhookOutcomes.Delivered).Sum(r => r.Count)))
            .ToList();
        var failures = rows.Where(r => r.Outcome != WebhookOutcomes.Delivered)
            .OrderBy(r => WebhookFailureKinds.All.ToList().IndexOf(r.Outcome)).ThenBy(r => r.Event, StringComparer.Ordinal)
            .Select(r => new WebhookFailureCount(r.Outcome, r.Event, r.Count))
            .ToList();
        WebhookLastFailure? last = state?.FailureAt is { } at
            ? new WebhookLastFailure(
                At(at), state.FailureEvent!, state.FailureKind!, state.FailureStatus,
                WebhookFailureKinds.Describe(state.FailureKind!, state.FailureStatus, state.FailureCause), state.FailureCause)
            : null;
        return new WebhookStatusResponse(
            slug, from, to, now, Validation(state), events.Sum(e => e.Delivered), events.Sum(e => e.Failed), events, failures, last);
    }

    private static WebhookValidation Validation(StateRow? state)
    {
        var url = state?.Config is { } config ? JsonSerializer.Deserialize<TenantConfig>(config, PlatformJson.Tolerant)?.Delivery.Webhook?.Url : null;
        if (string.IsNullOrEmpty(url))
        {
            return new WebhookValidation(WebhookValidationStates.NoWebhook, null);
        }

        if (state!.ValidationAt is not { } at || state.ValidationUrlHash != WebhookValidationStates.HashUrl(url))
        {
            return new WebhookValidation(WebhookValidationStates.Unknown, null);
        }

        return new WebhookValidation(state.ValidationPassed == true ? WebhookValidationStates.Validated : WebhookValidationStates.Failed, At(at));
    }

    private static DateTimeOffset At(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed record StateRow(
        string Config, DateTime? FailureAt, string? FailureEvent, string? FailureKind, int? FailureStatus, string? FailureCause,
        DateTime? ValidationAt, bool? ValidationPassed, string? ValidationUrlHash);
}
