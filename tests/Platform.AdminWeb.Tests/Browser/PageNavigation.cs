using Microsoft.Playwright;

namespace Platform.AdminWeb.Tests.Browser;

/// <summary>Waiting for the page a click or a form led to.</summary>
internal static class PageNavigation
{
    /// <summary>
    /// Waits until the page's URL is <paramref name="url"/> (30 s at most), by polling the URL. Unlike
    /// <c>IPage.WaitForURLAsync</c> this does not then wait for the page's <c>load</c> event: under the load of the whole
    /// suite on two cores, that wait, begun once the new URL was committed, timed out now and then after 30 s with the
    /// page there ("NetworkIdle" fired, "load" never seen). What the tests read next waits for its own elements.
    /// </summary>
    public static Task ArriveAtAsync(this IPage page, string url) =>
        Assertions.Expect(page).ToHaveURLAsync(url, new PageAssertionsToHaveURLOptions { Timeout = 30_000 });
}
