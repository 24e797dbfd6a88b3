using System.Net;
using Platform.Contracts.Config;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

public sealed class DtlsConfigValidationTests
{
    [Theory]
    [InlineData(0, 30)]
    [InlineData(0, 600)]
    [InlineData(5, 5)]
    [InlineData(5, 1)]
    [InlineData(60, 30)]
    [InlineData(3600, 600)]
    public void Heartbeats_InRange_AreValid(int interval, int timeout)
    {
        var config = new TenantConfig { Dtls = new DtlsConfig { HeartbeatIntervalSeconds = interval, HeartbeatTimeoutSeconds = timeout } };

        Assert.Empty(TenantConfigValidator.Validate(config));
    }

    [Theory]
    [InlineData(-1, 30, "dtls.heartbeatIntervalSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(1, 1, "dtls.heartbeatIntervalSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(4, 1, "dtls.heartbeatIntervalSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(3601, 30, "dtls.heartbeatIntervalSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(int.MaxValue, 30, "dtls.heartbeatIntervalSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(0, 0, "dtls.heartbeatTimeoutSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(0, 601, "dtls.heartbeatTimeoutSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(60, -5, "dtls.heartbeatTimeoutSeconds", FieldErrorCodes.OutOfRange)]
    [InlineData(5, 6, "dtls.heartbeatTimeoutSeconds", FieldErrorCodes.Inconsistent)]
    [InlineData(60, 61, "dtls.heartbeatTimeoutSeconds", FieldErrorCodes.Inconsistent)]
    public void Heartbeats_OutOfRangeOrLongerThanTheInterval_NameTheField(int interval, int timeout, string field, string code)
    {
        var config = new TenantConfig { Dtls = new DtlsConfig { HeartbeatIntervalSeconds = interval, HeartbeatTimeoutSeconds = timeout } };

        var error = Assert.Single(TenantConfigValidator.Validate(config));

        Assert.Equal((field, code), (error.Field, error.Code));
    }

    [Fact]
    public void HeartbeatInterval_Error_SaysZeroTurnsThemOff()
    {
        var config = new TenantConfig { Dtls = new DtlsConfig { HeartbeatIntervalSeconds = 2, HeartbeatTimeoutSeconds = 1 } };

        var error = Assert.Single(TenantConfigValidator.Validate(config));

        Assert.Equal("Must be 0 (off) or between 5 and 3600.", error.Message);
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(8, false)]
    [InlineData(16, true)]
    public void ConnectionIdLength_FourToSixteen_IsValidWhetherOrNotEnabled(int length, bool enabled)
    {
        var config = new TenantConfig { Dtls = new DtlsConfig { ConnectionIds = new DtlsConnectionIdConfig { Enabled = enabled, Length = length } } };

        Assert.Empty(TenantConfigValidator.Validate(config));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(255)]
    [InlineData(-8)]
    public void ConnectionIdLength_OutsideFourToSixteen_IsOutOfRange(int length)
    {
        var config = new TenantConfig { Dtls = new DtlsConfig { ConnectionIds = new DtlsConnectionIdConfig { Enabled = true, Length = length } } };

        var error = Assert.Single(TenantConfigValidator.Validate(config));

        Assert.Equal(("dtls.connectionIds.length", FieldErrorCodes.OutOfRange), (error.Field, error.Code));
    }

    [Fact]
    public void NullSections_AreRequired()
    {
        Assert.Equal(["dtls"], TenantConfigValidator.Validate(new TenantConfig { Dtls = null! }).Select(e => e.Field).ToArray());
        var config = new TenantConfig { Dtls = new DtlsConfig { ConnectionIds = null!, RawPublicKeys = null! } };
        Assert.Equal(["dtls.connectionIds", "dtls.rawPublicKeys"], TenantConfigValidator.Validate(config).Select(e => e.Field).ToArray());
    }

    [Fact]
    public async Task PutConfig_BadDtlsSection_Answers400WithEveryFieldAndKeepsTheRevision()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        using var bad = new HttpRequestMessage(HttpMethod.Put, Url("/v1/tenants/acme/config"))
        {
            Content = RawJson("""{"dtls":{"heartbeatIntervalSeconds":10,"heartbeatTimeoutSeconds":11,"connectionIds":{"enabled":true,"length":32}}}"""),
        };
        bad.Headers.TryAddWithoutValidation("If-Match", $"\"{tenant.ConfigRevision}\"");
        var refused = await client.SendAsync(bad);

        var (code, fields) = await ProblemAsync(refused);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(ErrorCodes.ValidationFailed, code);
        Assert.Equal(["dtls.connectionIds.length", "dtls.heartbeatTimeoutSeconds"], fields.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(tenant.ConfigRevision, (await ReadAsync<ConfigResponse>(await client.GetAsync(Url("/v1/tenants/acme/config"))))!.Revision);

        using var good = new HttpRequestMessage(HttpMethod.Put, Url("/v1/tenants/acme/config"))
        {
            Content = RawJson("""{"dtls":{"heartbeatIntervalSeconds":10,"heartbeatTimeoutSeconds":10,"connectionIds":{"enabled":true,"length":16},"rawPublicKeys":{"enabled":true}}}"""),
        };
        good.Headers.TryAddWithoutValidation("If-Match", $"\"{tenant.ConfigRevision}\"");
        var stored = await ReadAsync<ConfigResponse>(await client.SendAsync(good));
        Assert.Equal(new DtlsConfig
        {
            HeartbeatIntervalSeconds = 10,
            HeartbeatTimeoutSeconds = 10,
            ConnectionIds = new DtlsConnectionIdConfig { Enabled = true, Length = 16 },
            RawPublicKeys = new DtlsRawPublicKeyConfig { Enabled = true },
        }, stored!.Config.Dtls);
    }
}
