using Platform.AdminWeb;
using Platform.Contracts.Problems;

namespace Platform.AdminWeb.Tests;

public sealed class FormatTests
{
    [Fact]
    public void RefusalReason_EveryPublishedReason_ExplainedFromTheSharedList()
    {
        foreach (var reason in RefusalReasons.All)
        {
            var name = RefusalReasons.Name(reason);
            var meaning = Format.RefusalReason(name);
            Assert.False(meaning == name.Replace('_', ' '), $"{name} has no meaning of its own");
            Assert.Equal(RefusalReasons.Meaning(reason), meaning);
        }

        Assert.Equal("delivery mode not available on the gateway", Format.RefusalReason("delivery_unavailable"));
        Assert.Equal("some new reason", Format.RefusalReason("some_new_reason"));
    }
}
