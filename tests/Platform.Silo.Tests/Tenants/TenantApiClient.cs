using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Tenants;

/// <summary>Small request helpers shared by the tenant, config, port and audit tests.</summary>
internal static class TenantApiClient
{
    public static Uri Url(string path) => new(path, UriKind.Relative);

    public static async Task<TenantResponse> CreateTenantAsync(HttpClient client, string slug, object? config = null)
    {
        var response = await client.PostAsync(Url("/v1/tenants"), Json(new { slug, displayName = $"Tenant {slug}", config }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await ReadAsync<TenantResponse>(response))!;
    }

    /// <summary>
    /// An operator client on its own real loopback connection to a silo started with Kestrel, so that
    /// concurrent requests really overlap in the server.
    /// </summary>
    public static HttpClient RealOperatorClient(SiloApp silo)
    {
        var addresses = silo.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        var client = new HttpClient { BaseAddress = new Uri(addresses.First()) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", silo.OperatorKey);
        return client;
    }

    public static StringContent Json(object body) =>
        new(JsonSerializer.Serialize(body, PlatformJson.Options), Encoding.UTF8, "application/json");

    public static StringContent RawJson(string body) => new(body, Encoding.UTF8, "application/json");

    public static Task<T?> ReadAsync<T>(HttpResponseMessage response) =>
        response.Content.ReadFromJsonAsync<T>(PlatformJson.Options);

    /// <summary>The problem body's code, and the fields its errors name.</summary>
    public static async Task<(string Code, IReadOnlyList<string> Fields)> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        var fields = root.TryGetProperty("errors", out var errors)
            ? errors.EnumerateArray().Select(e => e.GetProperty("field").GetString()!).ToList()
            : [];
        return (root.GetProperty("code").GetString()!, fields);
    }

    public static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code, string? field = null)
    {
        Assert.Equal(status, response.StatusCode);
        var (actualCode, fields) = await ProblemAsync(response);
        Assert.Equal(code, actualCode);
        if (field is not null)
        {
            Assert.Contains(field, fields);
        }
    }
}
