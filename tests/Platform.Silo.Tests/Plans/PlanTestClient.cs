using System.Net;
using System.Text.Json;
using Platform.Contracts.Config;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Plans;

/// <summary>Plan and configuration requests of the plan tests, as raw JSON so that they also run against a silo without plans.</summary>
internal static class PlanTestClient
{
    /// <summary>Replaces the tenant's plan with the operator's client; anything but 200 fails the test.</summary>
    public static async Task SetPlanAsync(HttpClient operatorClient, string slug, object plan)
    {
        var response = await operatorClient.PutAsync(Url($"/v1/tenants/{slug}/plan"), Json(plan));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT plan answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Reads the configuration's ETag and replaces the configuration with it.</summary>
    public static async Task<HttpResponseMessage> ReplaceConfigAsync(HttpClient client, string slug, TenantConfig config)
    {
        var read = await client.GetAsync(Url($"/v1/tenants/{slug}/config"));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Put, Url($"/v1/tenants/{slug}/config")) { Content = Json(config) };
        request.Headers.TryAddWithoutValidation("If-Match", read.Headers.ETag!.ToString());
        return await client.SendAsync(request);
    }

    /// <summary>The problem's status, code and its errors as (field, code, message).</summary>
    public static async Task<(HttpStatusCode Status, string Code, IReadOnlyList<(string Field, string Code, string Message)> Errors)> ProblemErrorsAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{(int)response.StatusCode}: {body}");
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var errors = root.TryGetProperty("errors", out var list)
            ? list.EnumerateArray().Select(e => (e.GetProperty("field").GetString()!, e.GetProperty("code").GetString()!, e.GetProperty("message").GetString()!)).ToList()
            : [];
        return (response.StatusCode, root.GetProperty("code").GetString()!, errors);
    }

    /// <summary>Asserts a 409 <c>quota_exceeded</c> whose one error names <paramref name="field"/> with <paramref name="message"/>.</summary>
    public static async Task AssertQuotaExceededAsync(HttpResponseMessage response, string field, string? message = null)
    {
        var (status, code, errors) = await ProblemErrorsAsync(response);
        Assert.Equal((HttpStatusCode.Conflict, "quota_exceeded"), (status, code));
        var error = Assert.Single(errors);
        Assert.Equal((field, "quota_exceeded"), (error.Field, error.Code));
        if (message is not null)
        {
            Assert.Equal(message, error.Message);
        }
    }
}
