using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Gateway.Internal;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Internal;

/// <summary>The cluster-secret check in front of the gateway's internal API, over its real listener.</summary>
public sealed class GatewayInternalApiTests
{
    [Fact]
    public async Task Guard_OnlyTheExactClusterSecretIsAccepted()
    {
        await using var silo = await SiloFixture.StartAsync();
        await using var gateway = await silo.StartGatewayAsync();
        var secret = silo.ClusterSecret;
        using var http = new HttpClient { BaseAddress = gateway.InternalUri };

        // Accepted: the route itself answers (no such connection).
        Assert.Equal((HttpStatusCode.NotFound, "connection_not_found"), await DisconnectAsync(http, "Bearer " + secret));

        // Shorter, longer, same length but different, empty, another scheme: all the same 401.
        var wrong = new[]
        {
            "Bearer " + secret[..^1],
            "Bearer " + secret + "x",
            "Bearer " + secret[..^1] + (secret[^1] == 'a' ? 'b' : 'a'),
            "Bearer x",
            "Bearer ",
            "Basic " + secret,
            "",
        };
        foreach (var header in wrong)
        {
            Assert.Equal((HttpStatusCode.Unauthorized, "unauthenticated"), await DisconnectAsync(http, header));
        }
    }

    [Fact]
    public async Task Problems_TypeIsThePlatformsSchemeForTheirCode()
    {
        await using var silo = await SiloFixture.StartAsync();
        await using var gateway = await silo.StartGatewayAsync();
        using var http = new HttpClient { BaseAddress = gateway.InternalUri };

        foreach (var (authorization, code) in new[] { ("Bearer " + silo.ClusterSecret, "connection_not_found"), ("Bearer x", "unauthenticated") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/connections/gw-nobody.1/disconnect")
            {
                Content = JsonContent.Create(new DisconnectRequest(), options: PlatformJson.Options),
            };
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await http.SendAsync(request);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal((code, "https://errors.platform.dev/" + code),
                (body.RootElement.GetProperty("code").GetString(), body.RootElement.GetProperty("type").GetString()));
        }
    }

    [Fact]
    public void SecretMatches_ComparesWholeSecretsOfAnyLength()
    {
        var secret = new string('k', 32);

        Assert.True(GatewayInternalApi.SecretMatches(secret, secret));
        Assert.False(GatewayInternalApi.SecretMatches(secret[..31], secret));
        Assert.False(GatewayInternalApi.SecretMatches(secret + "k", secret));
        Assert.False(GatewayInternalApi.SecretMatches("", secret));
        Assert.False(GatewayInternalApi.SecretMatches(new string('j', 32), secret));
    }

    private static async Task<(HttpStatusCode Status, string? Code)> DisconnectAsync(HttpClient http, string authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/connections/gw-nobody.1/disconnect")
        {
            Content = JsonContent.Create(new DisconnectRequest(), options: PlatformJson.Options),
        };
        if (authorization.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await http.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, body.RootElement.TryGetProperty("code", out var code) ? code.GetString() : null);
    }
}
