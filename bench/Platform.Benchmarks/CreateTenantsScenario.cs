using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>REST create-tenant throughput: N tenants by C concurrent operator clients.</summary>
internal static class CreateTenantsScenario
{
    public static async Task RunAsync(BenchContext context)
    {
        var count = context.Options.Count ?? 500;
        var recorder = context.Recorder($"POST /v1/tenants ({context.Options.Concurrency} concurrent)");
        await context.RunAsync(recorder, count, context.Options.Concurrency, async (_, index) =>
        {
            var slug = string.Create(CultureInfo.InvariantCulture, $"bench-{index:D6}");
            var tenant = await context.CreateTenantAsync(slug);
            if (tenant.Slug != slug)
            {
                throw new BenchmarkFailedException($"created tenant answered slug {tenant.Slug}, expected {slug}");
            }
        });
        Console.WriteLine(recorder.Summary());
    }
}
