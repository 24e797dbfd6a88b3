using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Platform.Gateway.Hosting;
using Platform.Gateway.ProxyProtocol;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.ProxyProtocol;

public sealed class ProxyProtocolOptionsTests
{
    [Fact]
    public void Bind_PerListenerSettings_ParsedAndValid()
    {
        var options = Bind(new()
        {
            ["Platform:ProxyProtocol:HeaderTimeoutSeconds"] = "3",
            ["Platform:ProxyProtocol:Wss:Mode"] = "required",
            ["Platform:ProxyProtocol:Wss:TrustedNetworks:0"] = "10.20.0.0/16",
            ["Platform:ProxyProtocol:Wss:TrustedNetworks:1"] = "2001:db8::5",
        });

        Assert.Empty(Errors(options));
        Assert.Equal(3, options.ProxyProtocol.HeaderTimeoutSeconds);
        Assert.True(options.ProxyProtocol.For(ProxyListener.Wss).IsRequired);
        Assert.False(options.ProxyProtocol.For(ProxyListener.Ws).IsRequired);
        Assert.False(options.ProxyProtocol.For(ProxyListener.Dedicated).IsRequired);
        Assert.Equal(["10.20.0.0/16", "2001:db8::5/128"], options.ProxyProtocol.Wss.ParsedTrustedNetworks().Select(n => n.ToString()));
    }

    [Theory]
    [InlineData("Tls", "Mode", "optional", "ProxyProtocol:Tls:Mode")]
    [InlineData("Ws", "TrustedNetworks:0", "10.1.2.3/8", "ProxyProtocol:Ws:TrustedNetworks")]
    [InlineData("Ws", "TrustedNetworks:0", "10.1/16", "ProxyProtocol:Ws:TrustedNetworks")]
    [InlineData("Dedicated", "TrustedNetworks:0", "balancer.internal", "ProxyProtocol:Dedicated:TrustedNetworks")]
    [InlineData("Dedicated", "TrustedNetworks:0", "::ffff:10.0.0.0/104", "ProxyProtocol:Dedicated:TrustedNetworks")]
    public void Validate_BadListenerSetting_NamesIt(string listener, string key, string value, string named)
    {
        var options = Bind(new()
        {
            [$"Platform:ProxyProtocol:{listener}:{key}"] = value,
        });

        Assert.Contains(Errors(options), e => e.Contains(named, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RequiredWithoutTrustedNetworks_Refused()
    {
        // Trusting no one would refuse every connection; trusting everyone would let any client name its own address.
        var options = Bind(new() { ["Platform:ProxyProtocol:Ws:Mode"] = "required" });

        Assert.Contains(Errors(options), e => e.Contains("ProxyProtocol:Ws:Mode 'required' needs TrustedNetworks", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("61")]
    public void Validate_HeaderTimeoutOutOfRange_Refused(string seconds)
    {
        var options = Bind(new() { ["Platform:ProxyProtocol:HeaderTimeoutSeconds"] = seconds });

        Assert.Contains(Errors(options), e => e.Contains("HeaderTimeoutSeconds", StringComparison.Ordinal));
    }

    private static GatewayOptions Bind(Dictionary<string, string?> settings)
    {
        settings["Platform:SnapshotKey"] = TestGateway.SnapshotKey;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new GatewayOptions();
        configuration.GetSection(GatewayOptions.Section).Bind(options);
        return options;
    }

    private static List<string> Errors(GatewayOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return [.. results.Select(r => r.ErrorMessage ?? "")];
    }
}
