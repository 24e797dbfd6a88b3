using System.Net;
using Platform.Contracts.ApiKeys;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.ApiKeys;

/// <summary>Creates tenant API keys through the REST endpoint.</summary>
internal static class ApiKeyTestClient
{
    public static async Task<CreatedApiKeyResponse> CreateKeyAsync(HttpClient client, string slug, string name = "test key")
    {
        var response = await client.PostAsync(Url($"/v1/tenants/{slug}/api-keys"), Json(new { name }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await ReadAsync<CreatedApiKeyResponse>(response))!;
    }
}
