using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Problems;

namespace Platform.Silo.Gateways;

/// <summary>Outcome of one call to a gateway's internal API.</summary>
internal enum GatewayCallStatus
{
    /// <summary>The gateway took the command.</summary>
    Accepted,

    /// <summary>The gateway does not hold the target (for example the connection just closed).</summary>
    NotFound,

    /// <summary>The gateway found the command itself invalid for its target (for example a datagram over the DTLS MTU).</summary>
    Invalid,

    /// <summary>The gateway failed, refused, or did not answer in time.</summary>
    Unavailable,
}

/// <summary>What a gateway answered: the outcome, its body when accepted, its field errors when invalid.</summary>
internal sealed record GatewayCallResult<TResponse>(GatewayCallStatus Status, TResponse? Body = null, IReadOnlyList<FieldError>? Errors = null)
    where TResponse : class;

/// <summary>Calls a gateway's internal API with the cluster secret, under a short timeout.</summary>
internal sealed partial class GatewayCommandClient(IHttpClientFactory httpClientFactory, PlatformOptions options, ILogger<GatewayCommandClient> logger)
{
    public const string HttpClientName = "gateway-commands";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<GatewayCallResult<TResponse>> PostAsync<TRequest, TResponse>(
        string gatewayId, string internalUrl, string path, TRequest body, CancellationToken cancellationToken)
        where TResponse : class
    {
        var client = httpClientFactory.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(internalUrl.TrimEnd('/') + path, UriKind.Absolute))
        {
            Content = JsonContent.Create(body, options: PlatformJson.Options),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ClusterSecret);
        try
        {
            using var response = await client.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return new(GatewayCallStatus.NotFound);
            }

            if (response.StatusCode == HttpStatusCode.BadRequest
                && await response.Content.ReadFromJsonAsync<GatewayProblem>(PlatformJson.Options, cancellationToken) is { Errors.Count: > 0 } problem)
            {
                return new(GatewayCallStatus.Invalid, Errors: problem.Errors);
            }

            if (!response.IsSuccessStatusCode)
            {
                LogGatewayRefused(logger, gatewayId, path, (int)response.StatusCode);
                return new(GatewayCallStatus.Unavailable);
            }

            var answer = typeof(TResponse) == typeof(NoBody) || response.StatusCode == HttpStatusCode.NoContent
                ? null
                : await response.Content.ReadFromJsonAsync<TResponse>(PlatformJson.Options, cancellationToken);
            return new(GatewayCallStatus.Accepted, answer);
        }
        catch (HttpRequestException e)
        {
            LogGatewayUnreachable(logger, e, gatewayId, path);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogGatewayUnreachable(logger, e, gatewayId, path);
        }
        catch (System.Text.Json.JsonException e)
        {
            LogGatewayUnreachable(logger, e, gatewayId, path);
        }

        return new(GatewayCallStatus.Unavailable);
    }

    /// <summary>Marker for commands whose answer has no body worth reading.</summary>
    public sealed class NoBody;

    /// <summary>The part of a gateway's 400 problem document the silo passes on (the rest is left unread).</summary>
    [System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip)]
    private sealed record GatewayProblem(IReadOnlyList<FieldError>? Errors);

    [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "Gateway {GatewayId} answered {StatusCode} to {Path}")]
    private static partial void LogGatewayRefused(ILogger logger, string gatewayId, string path, int statusCode);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Warning, Message = "Gateway {GatewayId} did not answer {Path}")]
    private static partial void LogGatewayUnreachable(ILogger logger, Exception exception, string gatewayId, string path);
}
