using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;

namespace Platform.Benchmarks;

/// <summary>
/// Reads and replacements of one tenant's configuration: <c>GET /v1/tenants/{slug}/config</c> by C concurrent
/// clients over eight tenants, and <c>PUT</c> with <c>If-Match</c> by C concurrent writers, each replacing its own
/// tenant's configuration one revision after another (so no writer ever loses a precondition to another).
/// </summary>
internal static class ConfigScenarios
{
    private const int ReadTenants = 8;

    public static async Task GetConfigAsync(BenchContext context)
    {
        var count = context.Options.Count ?? 4000;
        var tenants = new List<(string Slug, long Revision)>();
        for (var t = 0; t < ReadTenants; t++)
        {
            var tenant = await context.CreateTenantAsync(string.Create(CultureInfo.InvariantCulture, $"read-{t}"), Config(100 + t));
            tenants.Add((tenant.Slug, tenant.ConfigRevision));
        }

        var recorder = context.Recorder($"GET /v1/tenants/{{slug}}/config ({context.Options.Concurrency} concurrent, {ReadTenants} tenants)");
        await context.RunAsync(recorder, count, context.Options.Concurrency, async (_, index) =>
        {
            var t = index % ReadTenants;
            var (slug, revision) = tenants[t];
            using var response = await context.Operator.GetAsync(ConfigPath(slug));
            var config = await BenchContext.ReadAsync<ConfigResponse>(response, HttpStatusCode.OK, "GET config");
            if (config.Revision != revision || config.Config.Limits.MaxConnections != 100 + t
                || response.Headers.ETag?.Tag != ETag(revision))
            {
                throw new BenchmarkFailedException($"GET config of {slug} answered revision {config.Revision} (ETag {response.Headers.ETag}), expected {revision}");
            }
        });
        Console.WriteLine(recorder.Summary());
    }

    public static async Task PutConfigAsync(BenchContext context)
    {
        var count = context.Options.Count ?? 1000;
        var writers = context.Options.Concurrency;
        var revisions = new long[writers];
        var slugs = new string[writers];
        for (var w = 0; w < writers; w++)
        {
            var tenant = await context.CreateTenantAsync(string.Create(CultureInfo.InvariantCulture, $"write-{w}"));
            slugs[w] = tenant.Slug;
            revisions[w] = tenant.ConfigRevision;
        }

        var recorder = context.Recorder($"PUT /v1/tenants/{{slug}}/config with If-Match ({writers} concurrent writers, one tenant each)");
        await context.RunAsync(recorder, count, writers, async (worker, index) =>
        {
            var maxConnections = 1 + (index % 900);
            var revision = await ReplaceAsync(context.Operator, slugs[worker], revisions[worker], Config(maxConnections));
            if (revision <= revisions[worker])
            {
                throw new BenchmarkFailedException($"PUT config of {slugs[worker]} answered revision {revision}, not after {revisions[worker]}");
            }

            revisions[worker] = revision;
        });
        Console.WriteLine(recorder.Summary());
    }

    public static TenantConfig Config(int maxConnections) => new() { Limits = new LimitsConfig { MaxConnections = maxConnections } };

    public static Uri ConfigPath(string slug) => new($"/v1/tenants/{slug}/config", UriKind.Relative);

    /// <summary>Replaces <paramref name="slug"/>'s configuration based on <paramref name="revision"/>; returns the new revision.</summary>
    public static async Task<long> ReplaceAsync(HttpClient client, string slug, long revision, TenantConfig config, CancellationToken cancellationToken = default)
    {
        using var response = await PutAsync(client, slug, revision, config, cancellationToken);
        return (await BenchContext.ReadAsync<ConfigResponse>(response, HttpStatusCode.OK, $"PUT config of {slug}")).Revision;
    }

    /// <summary>
    /// <c>PUT /v1/tenants/{slug}/config</c> with <c>If-Match</c> naming <paramref name="revision"/>; the caller reads
    /// (and disposes) the answer.
    /// </summary>
    public static async Task<HttpResponseMessage> PutAsync(HttpClient client, string slug, long revision, TenantConfig config, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, ConfigPath(slug)) { Content = JsonContent.Create(config, options: PlatformJson.Options) };
        request.Headers.IfMatch.Add(new EntityTagHeaderValue(ETag(revision)));
        return await client.SendAsync(request, cancellationToken);
    }

    private static string ETag(long revision) => string.Create(CultureInfo.InvariantCulture, $"\"{revision}\"");
}
