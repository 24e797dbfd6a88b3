using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;

namespace Platform.Gateway.Tests.Support;

/// <summary>Bounded waits on conditions (never a fixed sleep as an assertion).</summary>
internal static class Wait
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static Task UntilAsync(Func<Task<bool>> condition, string what) => UntilAsync(condition, what, Limit);

    /// <summary>Waits up to <paramref name="within"/> for <paramref name="condition"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan within)
    {
        using var limit = new CancellationTokenSource(within);
        while (!await condition())
        {
            try
            {
                await Task.Delay(50, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Timed out after {within.TotalSeconds} s waiting for {what}.");
            }
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);

    /// <summary>The tenant's connections in the directory in the given state.</summary>
    public static async Task<IReadOnlyList<ConnectionResponse>> ListAsync(SiloFixture silo, string slug, string state = "open")
    {
        var page = await silo.Operator.GetFromJsonAsync<Page<ConnectionResponse>>(
            new Uri($"/v1/tenants/{slug}/connections?state={state}", UriKind.Relative), PlatformJson.Options);
        return page!.Items;
    }
}
