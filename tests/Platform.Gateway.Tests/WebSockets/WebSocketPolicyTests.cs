using Platform.Contracts.Config;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tests.WebSockets;

public sealed class WebSocketPolicyTests
{
    [Theory]
    [InlineData("https://app.example.com", true)]
    [InlineData("https://a.b.example.com", true)]
    [InlineData("https://other.com", false)]
    [InlineData("http://x.example.com", false)]
    [InlineData("https://example.com", false)]
    [InlineData("https://exact.test", true)]
    [InlineData("", true)]
    public void IsOriginAllowed_ExactAndWildcard(string origin, bool expected)
    {
        var policy = WebSocketPolicy.Compile(new WebSocketConfig { AllowedOrigins = ["https://*.example.com", "https://exact.test"] });
        Assert.Equal(expected, policy.IsOriginAllowed(origin));
    }

    [Fact]
    public void SelectSubProtocol_TenantPreferenceOrderWins()
    {
        var policy = WebSocketPolicy.Compile(new WebSocketConfig { SubProtocols = ["mqtt", "json"] });
        Assert.Equal("mqtt", policy.SelectSubProtocol(["json", "mqtt"]));
        Assert.Null(policy.SelectSubProtocol(["xml"]));
    }
}
