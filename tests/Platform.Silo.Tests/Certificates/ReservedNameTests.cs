using Platform.Silo.Certificates;

namespace Platform.Silo.Tests.Certificates;

public sealed class ReservedNameTests
{
    [Theory]
    [InlineData("acme.platform.test", null)]
    [InlineData("device.example.com", null)]
    [InlineData("platform.test.example.com", null)]
    [InlineData("other.platform.test", "other.platform.test")]
    [InlineData("*.platform.test", "*.platform.test")]
    [InlineData("platform.test", "platform.test")]
    [InlineData("x.acme.platform.test", "x.acme.platform.test")]
    public void ReservedName_NamesUnderThePlatformDomain_OnlyTheTenantsOwnIsFree(string name, string? expected)
    {
        Assert.Equal(expected, CertificatesApi.ReservedName(["ok.example.org", name], "acme", "Platform.Test"));
    }
}
