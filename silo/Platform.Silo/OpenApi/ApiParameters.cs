using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Silo.Api;
using Platform.Silo.Connections;

namespace Platform.Silo.OpenApi;

/// <summary>
/// Every path and query parameter of the REST API: what it means and its type and bounds. Handlers bind some of them as
/// text (<c>offset</c>, <c>limit</c>, <c>port</c>) so a bad value is answered by a validation problem naming the
/// parameter; the document states the type a client must send. A parameter missing here fails the document's generation.
/// </summary>
internal static class ApiParameters
{
    private static readonly string[] ConnectionProtocolValues =
        [ConnectionProtocols.Tcp, ConnectionProtocols.Tls, ConnectionProtocols.Ws, ConnectionProtocols.Wss, ConnectionProtocols.Dtls];

    public static (string Description, OpenApiSchema Schema) Describe(string route, string name, ParameterLocation? location) =>
        (location, name) switch
        {
            (ParameterLocation.Path, "slug") => ("The tenant's slug.", new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                MinLength = 3,
                MaxLength = Names.MaxSlugLength,
                Pattern = "^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,39}$",
            }),
            (ParameterLocation.Path, "id") => DescribeId(route),
            (ParameterLocation.Path, "port") => ("The dedicated port's number.", Integer(1, 65535)),
            (ParameterLocation.Path, "name") => (
                "The claimed host name as listed by `GET /v1/tenants/{slug}/host-names` (compared case-insensitively; a wildcard starts with `*.`).",
                new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 253 }),
            (ParameterLocation.Query, "offset") => ("How many items to skip.", WithDefault(Integer(0, int.MaxValue), 0)),
            (ParameterLocation.Query, "limit") => ("How many items to return at most.", WithDefault(Integer(1, Paging.MaxLimit), Paging.DefaultLimit)),
            (ParameterLocation.Query, "after") => ("Only events with a sequence number above this one (0, the default, from the oldest kept).", WithDefault(Sequence(), 0)),
            (ParameterLocation.Query, "search") => ("Only tenants whose slug or display name contains this text (ignoring case, matched literally).", Filter()),
            (ParameterLocation.Query, "tenant") => ("Only entries about the tenant with this slug.", Filter()),
            (ParameterLocation.Query, "actor") => ("Only entries by this actor: `operator`, `operator:{user name}` or `api-key:{key id}`.", Filter()),
            (ParameterLocation.Query, "since") => (
                "Start of the report, an ISO 8601 date and time with an offset, not in the future; truncated to its minute. An hour ago when absent.",
                new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" }),
            (ParameterLocation.Query, "state") => ("Which connections: those `open` now, those `closed` within the retention window, or `all`.",
                WithDefault(Choice(ConnectionDirectory.StateOpen, ConnectionDirectory.StateClosed, ConnectionDirectory.StateAll), ConnectionDirectory.StateOpen)),
            (ParameterLocation.Query, "protocol") => ("Only connections over this protocol.", Choice(ConnectionProtocolValues)),
            (ParameterLocation.Query, "remoteAddress") => ("Only connections from this client IP address.", new OpenApiSchema { Type = JsonSchemaType.String }),
            (ParameterLocation.Query, "gateway") => ("Only connections held by the gateway node with this id.", new OpenApiSchema { Type = JsonSchemaType.String }),
            (ParameterLocation.Query, "from") => (
                "Start of the range, an ISO 8601 date or date and time (UTC without an offset), truncated to its hour (or day). A day (or 30 days, by day) before `to` when absent.",
                new OpenApiSchema { Type = JsonSchemaType.String }),
            (ParameterLocation.Query, "to") => (
                $"End of the range (exclusive), an ISO 8601 date or date and time, at most {Usage.UsageApi.MaxRangeDays} days after `from`. Now when absent.",
                new OpenApiSchema { Type = JsonSchemaType.String }),
            (ParameterLocation.Query, "granularity") => ("One bucket per UTC `hour` or `day`.",
                WithDefault(Choice(Contracts.Usage.UsageGranularities.Hour, Contracts.Usage.UsageGranularities.Day), Contracts.Usage.UsageGranularities.Hour)),
            _ => throw new InvalidOperationException($"Parameter '{name}' ({location}) of {route} is not described in {nameof(ApiParameters)}."),
        };

    private static (string, OpenApiSchema) DescribeId(string route)
    {
        if (route.Contains("/connections/", StringComparison.Ordinal))
        {
            return ("The connection's id, `{gateway node id}.{sequence in hex}`.", new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                MaxLength = ConnectionId.MaxNodeIdLength + 17,
                Pattern = "^[a-z0-9-]{1,40}\\.[0-9a-f]{1,16}$",
            });
        }

        if (route.StartsWith("/v1/gateways/", StringComparison.Ordinal))
        {
            return ("The gateway node's id.", new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                MinLength = 1,
                MaxLength = ConnectionId.MaxNodeIdLength,
                Pattern = "^[a-z0-9-]+$",
            });
        }

        if (route.Contains("/raw-public-keys/", StringComparison.Ordinal))
        {
            return ("The raw public key's id, or its SHA-256 fingerprint (64 hex digits).", new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                MinLength = 32,
                MaxLength = 64,
                Pattern = "^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$",
            });
        }

        var what = route switch
        {
            _ when route.Contains("/certificates/", StringComparison.Ordinal) => "certificate",
            _ when route.Contains("/api-keys/", StringComparison.Ordinal) => "API key",
            _ when route.Contains("/psk-identities/", StringComparison.Ordinal) => "PSK identity",
            _ => throw new InvalidOperationException($"Parameter 'id' of {route} is not described in {nameof(ApiParameters)}."),
        };
        return ($"The {what}'s id.", new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" });
    }

    private static OpenApiSchema Sequence()
    {
        var schema = Integer(0, long.MaxValue);
        schema.Format = "int64";
        return schema;
    }

    private static OpenApiSchema Integer(long minimum, long maximum) => new()
    {
        Type = JsonSchemaType.Integer,
        Format = "int32",
        Minimum = minimum.ToString(CultureInfo.InvariantCulture),
        Maximum = maximum.ToString(CultureInfo.InvariantCulture),
    };

    private static OpenApiSchema Filter() => new() { Type = JsonSchemaType.String, MaxLength = Paging.MaxFilterLength };

    private static OpenApiSchema Choice(params string[] values) => new()
    {
        Type = JsonSchemaType.String,
        Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))],
    };

    private static OpenApiSchema WithDefault(OpenApiSchema schema, int value)
    {
        schema.Default = JsonValue.Create(value);
        return schema;
    }

    private static OpenApiSchema WithDefault(OpenApiSchema schema, string value)
    {
        schema.Default = JsonValue.Create(value);
        return schema;
    }
}
