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

    [Theory]
    [InlineData("false,true", true)]
    [InlineData("true,false", true)]
    [InlineData("true", true)]
    [InlineData("on", true)]
    [InlineData("false", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("truthy,false", false)]
    public void FromForm_Switch_IsOnWhenAnyPostedValueIsTrue(string? posted, bool expected)
    {
        var form = ConfigFields.All.ToDictionary(f => f.FormName, f => (string?)ConfigFields.Display(ConfigFields.ToJson(new TenantConfig()), f));
        form["cfg.dtls.connectionIds.enabled"] = posted;
        form["cfg.socket.linger"] = posted;

        var (config, errors) = ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false);

        Assert.Empty(errors);
        Assert.Equal((expected, expected), (config!.Dtls.ConnectionIds.Enabled, config.Socket.Linger));
    }

    [Fact]
    public void FromForm_DtlsFields_ShownWithTheirDefaultsAndReachTheConfig()
    {
        var form = ConfigFields.All.ToDictionary(f => f.FormName, f => ConfigFields.Display(ConfigFields.ToJson(new TenantConfig()), f));
        Assert.Equal(("0", "30", "false", "8", "false"), (form["cfg.dtls.heartbeatIntervalSeconds"], form["cfg.dtls.heartbeatTimeoutSeconds"],
            form["cfg.dtls.connectionIds.enabled"], form["cfg.dtls.connectionIds.length"], form["cfg.dtls.rawPublicKeys.enabled"]));
        form["cfg.dtls.heartbeatIntervalSeconds"] = "120";
        form["cfg.dtls.heartbeatTimeoutSeconds"] = "15";
        form["cfg.dtls.connectionIds.length"] = "4";
        form["cfg.dtls.rawPublicKeys.enabled"] = "false,true";

        var (config, errors) = ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false);

        Assert.Empty(errors);
        Assert.Equal(new DtlsConfig
        {
            HeartbeatIntervalSeconds = 120,
            HeartbeatTimeoutSeconds = 15,
            ConnectionIds = new DtlsConnectionIdConfig { Enabled = false, Length = 4 },
            RawPublicKeys = new DtlsRawPublicKeyConfig { Enabled = true },
        }, config!.Dtls);
        Assert.Empty(TenantConfigValidator.Validate(config));
        form["cfg.dtls.heartbeatIntervalSeconds"] = "many";
        Assert.Contains("dtls.heartbeatIntervalSeconds", ConfigFields.FromForm(name => form.GetValueOrDefault(name), webhookHadSecret: false).Errors.Keys);
    }
}
