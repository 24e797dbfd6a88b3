using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Problems;
using Platform.Silo.Gateways.Nodes;

namespace Platform.Silo.Gateways;

/// <summary>
/// How a gateway grain reaches its gateway: a POST to the gateway's internal API with the cluster secret, under a
/// short timeout. Only <see cref="GatewayGrain"/> calls it.
/// </summary>
internal sealed partial class GatewayHttpTransport(IHttpClientFactory httpClientFactory, PlatformOptions options, ILogger<GatewayHttpTransport> logger)
{
    public const string HttpClientName = "gateway-commands";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<GatewayCommandAnswer> PostAsync(string gatewayId, string internalUrl, GatewayCommand command, CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(internalUrl.TrimEnd('/') + command.Path, UriKind.Absolute))
        {
            Content = new ByteArrayContent(command.Body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } },
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
                return new(GatewayCallStatus.Invalid, JsonSerializer.SerializeToUtf8Bytes(problem.Errors, PlatformJson.Options));
            }

            if (!response.IsSuccessStatusCode)
            {
                LogGatewayRefused(logger, gatewayId, command.Path, (int)response.StatusCode);
                return new(GatewayCallStatus.Unavailable);
            }

            return new(GatewayCallStatus.Accepted, response.StatusCode == HttpStatusCode.NoContent ? null : await response.Content.ReadAsByteArrayAsync(cancellationToken));
        }
        catch (HttpRequestException e)
        {
            LogGatewayUnreachable(logger, e, gatewayId, command.Path);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogGatewayUnreachable(logger, e, gatewayId, command.Path);
        }
        catch (JsonException e)
        {
            LogGatewayUnreachable(logger, e, gatewayId, command.Path);
        }

        return new(GatewayCallStatus.Unavailable);
    }

    /// <summary>The part of a gateway's 400 problem document the silo passes on (the rest is left unread).</summary>
    [System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip)]
    private sealed record GatewayProblem(IReadOnlyList<FieldError>? Errors);

    [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "Gateway {GatewayId} answered {StatusCode} to {Path}")]
    private static partial void LogGatewayRefused(ILogger logger, string gatewayId, string path, int statusCode);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Warning, Message = "Gateway {GatewayId} did not answer {Path}")]
    private static partial void LogGatewayUnreachable(ILogger logger, Exception exception, string gatewayId, string path);
}
