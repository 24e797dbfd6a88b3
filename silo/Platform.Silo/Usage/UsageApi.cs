using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Usage;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Usage;

/// <summary>A tenant's metered usage per hour or day, and the operators' export of every tenant's hours (JSON or CSV).</summary>
internal static class UsageApi
{
    /// <summary>The longest range one request may ask for.</summary>
    public const int MaxRangeDays = 93;

    public const string CsvMediaType = "text/csv";

    private static readonly string[] IsoFormats =
    [
        "yyyy-MM-dd",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    public static RouteGroupBuilder MapUsageApi(this RouteGroupBuilder group)
    {
        group.MapGet("/tenants/{slug}/usage", GetTenantUsageAsync)
            .WithName("GetTenantUsage")
            .WithTags("Usage")
            .WithSummary("A tenant's usage per hour or day")
            .WithDescription(
                "Connection-seconds, peak concurrent connections, connections opened, messages and bytes in and out, per UTC hour or day "
                + $"and protocol, for buckets starting from `from` (truncated to its bucket) up to `to`, at most {MaxRangeDays} days. "
                + "Connections still open count up to the time of the read.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.TenantUsage);
        group.MapGet("/usage", ExportAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ExportUsage")
            .WithTags("Usage")
            .WithSummary("Every tenant's usage per hour, as JSON or CSV")
            .WithDescription(
                $"One row per tenant, UTC hour and protocol with any usage, for hours starting from `from` up to `to`, at most {MaxRangeDays} days. "
                + "Send `Accept: text/csv` for CSV with a header line (`tenant_id,tenant,hour,protocol,connection_seconds,peak_concurrent,"
                + "connections_opened,messages_in,messages_out,bytes_in,bytes_out`); JSON otherwise.")
            .AddOpenApiOperationTransformer(static (operation, _, _) =>
            {
                // The CSV form of the same answer: text, one line per row, described above.
                operation.Responses?["200"].Content?.TryAdd(CsvMediaType, new OpenApiMediaType());
                return Task.CompletedTask;
            })
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.UsageExport);
        return group;
    }

    private static async Task<Results<Ok<TenantUsageResponse>, ProblemHttpResult>> GetTenantUsageAsync(
        string slug, [FromQuery] string? from, [FromQuery] string? to, [FromQuery] string? granularity,
        HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var errors = new List<FieldError>();
        var bucket = granularity ?? UsageGranularities.Hour;
        if (bucket is not (UsageGranularities.Hour or UsageGranularities.Day))
        {
            errors.Add(new FieldError("granularity", FieldErrorCodes.InvalidChoice, "One of hour, day."));
            bucket = UsageGranularities.Hour;
        }

        var now = time.GetUtcNow();
        var range = ParseRange(from, to, now, bucket, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var rows = await UsageStore.ReadAsync(connection, tenant.Id, range.From, range.To, bucket, now, context.RequestAborted);
        return TypedResults.Ok(new TenantUsageResponse(
            tenant.Slug, range.From, range.To, bucket, now, UsageStore.Totals(rows),
            rows.Select(r => new UsageBucket(r.StartUtc, r.Protocol, r.Figures)).ToList()));
    }

    private static async Task<Results<Ok<UsageExportResponse>, ContentHttpResult, ProblemHttpResult>> ExportAsync(
        [FromQuery] string? from, [FromQuery] string? to, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        var range = ParseRange(from, to, now, UsageGranularities.Hour, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var rows = await UsageStore.ReadAsync(connection, tenantId: null, range.From, range.To, UsageGranularities.Hour, now, context.RequestAborted);
        if (WantsCsv(context.Request))
        {
            return TypedResults.Text(Csv(rows), CsvMediaType, Encoding.UTF8);
        }

        return TypedResults.Ok(new UsageExportResponse(
            range.From, range.To, now, rows.Select(r => new UsageExportRow(r.TenantId, r.Tenant, r.StartUtc, r.Protocol, r.Figures)).ToList()));
    }

    /// <summary>
    /// <c>from</c> and <c>to</c>: ISO 8601 dates or dates and times (UTC when no offset is given). <c>to</c> defaults to
    /// now, <c>from</c> to a day (hours) or 30 days (days) before <c>to</c>; <c>from</c> is truncated to its bucket.
    /// </summary>
    internal static (DateTimeOffset From, DateTimeOffset To) ParseRange(
        string? from, string? to, DateTimeOffset now, string bucket, List<FieldError> errors)
    {
        var end = now;
        if (to is not null && !TryParseTime(to, out end))
        {
            errors.Add(new FieldError("to", FieldErrorCodes.InvalidFormat, "An ISO 8601 date or date and time, for example 2026-01-31T12:00:00Z."));
            return default;
        }

        var start = end - (bucket == UsageGranularities.Day ? TimeSpan.FromDays(30) : TimeSpan.FromDays(1));
        if (from is not null && !TryParseTime(from, out start))
        {
            errors.Add(new FieldError("from", FieldErrorCodes.InvalidFormat, "An ISO 8601 date or date and time, for example 2026-01-01T00:00:00Z."));
            return default;
        }

        start = start.ToUniversalTime();
        start = bucket == UsageGranularities.Day
            ? new DateTimeOffset(start.Year, start.Month, start.Day, 0, 0, 0, TimeSpan.Zero)
            : new DateTimeOffset(start.Year, start.Month, start.Day, start.Hour, 0, 0, TimeSpan.Zero);
        end = end.ToUniversalTime();
        if (end <= start)
        {
            errors.Add(new FieldError("to", FieldErrorCodes.OutOfRange, "Must be later than from."));
        }
        else if (end - start > TimeSpan.FromDays(MaxRangeDays))
        {
            errors.Add(new FieldError("to", FieldErrorCodes.OutOfRange, $"At most {MaxRangeDays} days after from."));
        }

        return (start, end);
    }

    private static bool TryParseTime(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParseExact(text, IsoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);

    private static bool WantsCsv(HttpRequest request) =>
        MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accepted)
        && accepted.Any(a => a.MediaType.Equals(CsvMediaType, StringComparison.OrdinalIgnoreCase));

    private static string Csv(IReadOnlyList<UsageStore.UsageRow> rows)
    {
        var csv = new StringBuilder("tenant_id,tenant,hour,protocol,connection_seconds,peak_concurrent,connections_opened,messages_in,messages_out,bytes_in,bytes_out\r\n");
        foreach (var r in rows)
        {
            csv.Append(CultureInfo.InvariantCulture,
                $"{r.TenantId},{Field(r.Tenant)},{r.StartUtc:yyyy-MM-dd'T'HH:mm:ss'Z'},{Field(r.Protocol)},{r.ConnectionSeconds},{r.PeakConcurrent},{r.ConnectionsOpened},{r.MessagesIn},{r.MessagesOut},{r.BytesIn},{r.BytesOut}\r\n");
        }

        return csv.ToString();
    }

    /// <summary>RFC 4180 quoting, and a leading quote mark against formula injection in spreadsheets.</summary>
    private static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var text = value[0] is '=' or '+' or '-' or '@' ? "'" + value : value;
        return text.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }
}
