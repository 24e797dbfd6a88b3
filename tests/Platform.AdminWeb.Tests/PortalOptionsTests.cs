namespace Platform.AdminWeb.Tests;

public sealed class PortalOptionsTests
{
    [Theory]
    [InlineData("Platform:KnownProxies", "proxy.example")]
    [InlineData("Platform:KnownNetworks", "10.0.0.0")]
    [InlineData("Platform:KnownNetworks", "10.0.0.0/33")]
    public void Validate_ProxyNotAnAddressOrNetwork_NamesTheSetting(string setting, string value)
    {
        var options = new PortalOptions { OperatorKey = "op_" + new string('k', 30) };
        if (setting.EndsWith("KnownProxies", StringComparison.Ordinal))
        {
            options.KnownProxies = [value];
        }
        else
        {
            options.KnownNetworks = [value];
        }

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
        Assert.Contains(value, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AddressesAndNetworks_Accepted()
    {
        var options = new PortalOptions { OperatorKey = "op_" + new string('k', 30), KnownProxies = ["10.1.2.3", "fd00::1"], KnownNetworks = ["10.0.0.0/8", "fd00::/8"] };

        options.Validate();
    }
}
