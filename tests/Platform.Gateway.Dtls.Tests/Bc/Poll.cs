namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>Waits for a condition by polling, with a generous limit; fails with a description when it never holds.</summary>
internal static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan limit, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Condition not met in time: " + describe());
            }

            await Task.Delay(50);
        }
    }
}
