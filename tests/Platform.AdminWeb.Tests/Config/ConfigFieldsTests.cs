using Platform.AdminWeb.Config;
using Platform.Contracts.Config;

namespace Platform.AdminWeb.Tests.Config;

public sealed class ConfigFieldsTests
{
    [Fact]
    public void FromForm_DefaultsDisplayed_RoundTripToTheDefaultConfig()
    {
        var defaults = ConfigFields.ToJson(new TenantConfig());
        var form = ConfigFields.All.ToDictionary(f => f.FormName, f => ConfigFields.Display(defaults, f));

        var (config, errors) = ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false);

        Assert.Empty(errors);
        Assert.NotNull(config);
        Assert.Null(config.Listeners);
        Assert.Empty(TenantConfigValidator.Validate(config));
    }

    [Fact]
    public void FromForm_ListenersAndProxyProtocol_ReachTheConfig()
    {
        var shownBefore = ConfigFields.ToJson(new TenantConfig { Delivery = new DeliveryConfig { Forward = new ForwardConfig() } });
        var form = ConfigFields.All.ToDictionary(f => f.FormName, f => ConfigFields.Display(shownBefore, f));
        form["cfg.listeners"] = "wss\ntls";
        form["cfg.delivery.mode"] = DeliveryModes.Forward;
        form["cfg.delivery.forward.host"] = "backend.example.com";
        form["cfg.delivery.forward.port"] = "9000";
        form["cfg.delivery.forward.proxyProtocol"] = ProxyProtocolVersions.V2;

        var (config, errors) = ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false);

        Assert.Empty(errors);
        Assert.Equal([ListenerProtocols.Wss, ListenerProtocols.Tls], config!.Listeners);
        Assert.Equal(ProxyProtocolVersions.V2, config.Delivery.Forward!.ProxyProtocol);
        var shown = ConfigFields.ToJson(config);
        Assert.Equal("wss\ntls", ConfigFields.Display(shown, ConfigFields.All.Single(f => f.Path == "listeners")));
        Assert.Equal("v2", ConfigFields.Display(shown, ConfigFields.All.Single(f => f.Path == "delivery.forward.proxyProtocol")));
    }

    [Fact]
    public void FromForm_DtlsIdleTimeout_ShownWithItsDefaultAndReachesTheConfig()
    {
        var field = ConfigFields.All.Single(f => f.Path == "timeouts.dtlsIdleTimeoutSeconds");
        var form = ConfigFields.All.ToDictionary(f => f.FormName, f => ConfigFields.Display(ConfigFields.ToJson(new TenantConfig()), f));
        Assert.Equal("300", form[field.FormName]);
        form[field.FormName] = "45";

        var (config, errors) = ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false);

        Assert.Empty(errors);
        Assert.Equal((0, 45), (config!.Timeouts.IdleTimeoutSeconds, config.Timeouts.DtlsIdleTimeoutSeconds));
        form[field.FormName] = "0";
        var (zero, _) = ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false);
        Assert.Contains(TenantConfigValidator.Validate(zero!), e => e.Field == "timeouts.dtlsIdleTimeoutSeconds");
    }
}
