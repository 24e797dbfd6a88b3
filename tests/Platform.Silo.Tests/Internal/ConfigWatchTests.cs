using System.Diagnostics;
using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Cluster;
using Platform.Contracts.Config;
using Platform.Contracts.Problems;
using Platform.Silo.Events;
using Platform.Silo.Internal;
using Platform.Silo.Security;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class ConfigWatchTests
{
    [Fact]
    public async Task Watch_AfterZero_ReturnsFullSnapshotWithDecryptedSecrets()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var config = new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Webhook,
                Webhook = new WebhookConfig { Url = "https://hooks.example/acme", HasSecret = true },
            },
        };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: config, webhookSecret: "whsec-0123456789abcdef");
        var beta = await InternalTestFixture.InsertTenantRowsAsync(silo, "beta");
        var (certificateId, keyDer) = await InsertCertificateAndPskAsync(silo, acme);

        var answer = await silo.WatchAsync(0);

        Assert.True(answer.Full);
        Assert.Empty(answer.RemovedTenantIds);
        Assert.Equal(new[] { acme, beta }.Order(), answer.Tenants.Select(t => t.Id).Order());
        var snapshot = answer.Tenants.Single(t => t.Id == acme);
        Assert.Equal("acme", snapshot.Slug);
        Assert.Equal("whsec-0123456789abcdef", snapshot.Config.Delivery.Webhook!.Secret);
        Assert.Contains("acme.platform.test", snapshot.HostNames);
        Assert.Equal([new Platform.Contracts.Internal.DedicatedPortSnapshot(20001, "tcp")], snapshot.DedicatedPorts);
        var certificate = Assert.Single(snapshot.Certificates);
        Assert.Equal(certificateId, certificate.Id);
        Assert.Equal(new string(PemEncoding.Write("PRIVATE KEY", keyDer)), certificate.PrivateKeyPem);
        Assert.Equal(["device.acme.example"], certificate.HostNames);
        var psk = Assert.Single(snapshot.PskIdentities);
        Assert.Equal(("sensor-1", "00112233445566778899aabbccddeeff"), (psk.Identity, psk.KeyHex));
        Assert.True(answer.Revision >= snapshot.Revision);
        Assert.Empty(answer.Tenants.Single(t => t.Id == beta).Certificates);
    }

    [Fact]
    public async Task Watch_ConfigStoredByANewerSilo_WithSettingsThisBuildDoesNotKnow_ReachesTheGateways()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: new TenantConfig { Limits = new LimitsConfig { MaxConnections = 42 } });
        // During a rolling upgrade a silo of the next release stores settings this one has no member for.
        await InternalTestFixture.ExecuteAsync(silo,
            """
            UPDATE tenant_configs SET config = jsonb_set(config, '{limits,maxStreams}', '8') || '{"quic": {"enabled": true}}'
            WHERE tenant_id = @acme
            """,
            new { acme });

        var answer = await silo.WatchAsync(0);

        var snapshot = Assert.Single(answer.Tenants);
        Assert.Equal(acme, snapshot.Id);
        Assert.Equal(42, snapshot.Config.Limits.MaxConnections);
    }

    [Fact]
    public async Task WebhookTarget_ConfigStoredByANewerSilo_WithSettingsThisBuildDoesNotKnow_IsRead()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var config = new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = "https://hooks.example/acme", HasSecret = true } },
        };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: config, webhookSecret: "whsec-0123456789abcdef");
        await InternalTestFixture.ExecuteAsync(silo,
            """UPDATE tenant_configs SET config = jsonb_set(config, '{delivery,webhook,compression}', '"gzip"') WHERE tenant_id = @acme""",
            new { acme });
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();

        var target = await silo.Services.GetRequiredService<WebhookTargets>().LoadAsync(connection, acme, DateTimeOffset.UtcNow, CancellationToken.None);

        Assert.Equal(new Uri("https://hooks.example/acme"), target!.Url);
        Assert.Equal("whsec-0123456789abcdef", target.Secret);
    }

    [Theory]
    [InlineData(24)]
    [InlineData(0)]
    public async Task Watch_WebhookSecretRotated_SnapshotCarriesThePreviousSecretForItsHours(int previousSecretHours)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:Events:PreviousSecretHours"] = previousSecretHours.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var config = new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Webhook,
                Webhook = new WebhookConfig { Url = "https://hooks.example/acme", HasSecret = true },
            },
        };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: config, webhookSecret: "whsec-previous-0123456789");
        var beta = await InternalTestFixture.InsertTenantRowsAsync(silo, "beta", config: config, webhookSecret: "whsec-beta-0123456789abc");
        var encrypted = silo.Services.GetRequiredService<SecretProtector>().Protect("whsec-next-0123456789abcd", SecretPurposes.WebhookSecret, acme);
        await InternalTestFixture.ExecuteAsync(silo,
            """
            INSERT INTO tenant_configs (tenant_id, revision, config, webhook_secret_enc, actor, created_at)
            SELECT tenant_id, revision + 1, config, @encrypted, 'test', now() FROM tenant_configs WHERE tenant_id = @acme;
            UPDATE tenants SET config_revision = config_revision + 1 WHERE id = @acme;
            """,
            new { acme, encrypted });
        var before = DateTimeOffset.UtcNow;

        var answer = await silo.WatchAsync(0);

        var snapshot = answer.Tenants.Single(t => t.Id == acme);
        Assert.Equal("whsec-next-0123456789abcd", snapshot.Config.Delivery.Webhook!.Secret);
        if (previousSecretHours == 0)
        {
            Assert.Null(snapshot.PreviousWebhookSecret);
        }
        else
        {
            Assert.NotNull(snapshot.PreviousWebhookSecret);
            Assert.Equal("whsec-previous-0123456789", snapshot.PreviousWebhookSecret.Secret);
            Assert.InRange(snapshot.PreviousWebhookSecret.Until, before.AddHours(previousSecretHours).AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(previousSecretHours));
            Assert.DoesNotContain("whsec", snapshot.PreviousWebhookSecret.ToString(), StringComparison.Ordinal);
        }

        // A tenant whose secret never changed has no previous one.
        Assert.Null(answer.Tenants.Single(t => t.Id == beta).PreviousWebhookSecret);
    }

    [Fact]
    public async Task Watch_AfterCursor_ReturnsOnlyChangedTenantsAndRemovals()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var beta = await InternalTestFixture.InsertTenantRowsAsync(silo, "beta");
        var gamma = await InternalTestFixture.InsertTenantRowsAsync(silo, "gamma");
        var cursor = (await silo.WatchAsync(0)).Revision;

        var touched = await InternalTestFixture.TouchTenantAsync(silo, beta);
        var deleted = await InternalTestFixture.DeleteTenantRowsAsync(silo, gamma);
        var answer = await silo.WatchAsync(cursor);

        Assert.False(answer.Full);
        Assert.Equal([beta], answer.Tenants.Select(t => t.Id));
        Assert.Equal(touched, answer.Tenants[0].Revision);
        Assert.Equal([gamma], answer.RemovedTenantIds);
        Assert.Equal(deleted, answer.Revision);
        Assert.DoesNotContain(acme, answer.Tenants.Select(t => t.Id));
    }

    [Fact]
    public async Task Watch_CursorAheadOfDatabaseOrBelowHorizon_ReturnsFullSnapshot()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var current = (await silo.WatchAsync(0)).Revision;

        var ahead = await silo.WatchAsync(current + 1000);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "beta");
        await InternalTestFixture.ExecuteAsync(silo, "UPDATE config_horizon SET min_revision = @min", new { min = current + 1 });
        var belowHorizon = await silo.WatchAsync(current);

        Assert.True(ahead.Full);
        Assert.Single(ahead.Tenants);
        Assert.True(belowHorizon.Full);
        Assert.Equal(2, belowHorizon.Tenants.Count);
    }

    [Fact]
    public async Task Watch_EmptyDatabaseWithoutWait_AnswersEmptyFullSnapshotAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var answer = await silo.WatchAsync(0);

        Assert.True(answer.Full);
        Assert.Equal(0, answer.Revision);
        Assert.Empty(answer.Tenants);
    }

    [Fact]
    public async Task Watch_EmptyDatabaseWithWait_WaitsForTheFirstChangeInsteadOfAnsweringAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.Services.GetRequiredService<ConfigChangeSignal>().FirstListening.WaitAsync(TimeSpan.FromSeconds(10));
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var waiting = silo.WatchAsync(0, waitSeconds: 60, bound.Token);
        await Task.Delay(300, bound.Token);
        Assert.False(waiting.IsCompleted);
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await InternalTestFixture.TouchTenantAsync(silo, acme);
        var answer = await waiting;

        Assert.True(answer.Full);
        Assert.True(answer.Revision > 0);
        Assert.Equal([acme], answer.Tenants.Select(t => t.Id));
    }

    [Fact]
    public async Task Watch_NothingNewer_WokenByChangeWithinBound()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.Services.GetRequiredService<ConfigChangeSignal>().FirstListening.WaitAsync(TimeSpan.FromSeconds(10));
        var cursor = (await silo.WatchAsync(0)).Revision;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var stopwatch = Stopwatch.StartNew();
        var waiting = silo.WatchAsync(cursor, waitSeconds: 60, bound.Token);
        await Task.Delay(300, bound.Token);
        Assert.False(waiting.IsCompleted);
        var touched = await InternalTestFixture.TouchTenantAsync(silo, acme);
        var answer = await waiting;

        Assert.False(answer.Full);
        Assert.Equal([acme], answer.Tenants.Select(t => t.Id));
        Assert.Equal(touched, answer.Revision);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Watch_NothingNewerUntilTimeout_AnswersEmptyWithUnchangedRevision()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = new SiloApp(database) { Time = time };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.Services.GetRequiredService<ConfigChangeSignal>().FirstListening.WaitAsync(TimeSpan.FromSeconds(10));
        var cursor = (await silo.WatchAsync(0)).Revision;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var waiting = silo.WatchAsync(cursor, waitSeconds: 30, bound.Token);
        // The fake clock moves only when told; keep moving it until the long poll's timer has fired.
        while (!waiting.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(waiting, Task.Delay(50, bound.Token));
        }

        var answer = await waiting;
        Assert.Equal(cursor, answer.Revision);
        Assert.False(answer.Full);
        Assert.Empty(answer.Tenants);
        Assert.Empty(answer.RemovedTenantIds);
    }

    [Fact]
    public async Task Watch_SiloStopping_AnswersAtOnceWithNoChange()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.Services.GetRequiredService<ConfigChangeSignal>().FirstListening.WaitAsync(TimeSpan.FromSeconds(10));
        var cursor = (await silo.WatchAsync(0)).Revision;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var waiting = silo.WatchAsync(cursor, waitSeconds: 60, bound.Token);
        await Task.Delay(300, bound.Token);
        Assert.False(waiting.IsCompleted);

        // SIGTERM: the watch must not hold the silo's shutdown for the rest of its minute.
        var stopwatch = Stopwatch.StartNew();
        silo.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        var answer = await waiting;

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"answered after {stopwatch.Elapsed}");
        Assert.Equal((cursor, false), (answer.Revision, answer.Full));
        Assert.Empty(answer.Tenants);
        Assert.Empty(answer.RemovedTenantIds);
    }

    [Fact]
    public async Task Watch_CursorOrWaitOutOfRange_RejectedNamingTheField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        foreach (var (after, waitSeconds, field) in new[] { (0L, 61, "waitSeconds"), (0L, -1, "waitSeconds"), (-1L, 0, "after") })
        {
            var rejected = await Assert.ThrowsAsync<GatewayRequestRejectedException>(() => silo.WatchAsync(after, waitSeconds));
            var error = Assert.Single(rejected.Errors);
            Assert.Equal((field, FieldErrorCodes.OutOfRange), (error.Field, error.Code));
        }
    }

    private static async Task<(Guid CertificateId, byte[] KeyDer)> InsertCertificateAndPskAsync(SiloApp silo, Guid tenantId)
    {
        var protector = silo.Services.GetRequiredService<SecretProtector>();
        using var rsa = RSA.Create(2048);
        var keyDer = rsa.ExportPkcs8PrivateKey();
        var certificateId = Guid.NewGuid();
        var pskId = Guid.NewGuid();
        await using var dataSource = silo.Database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO certificates (id, tenant_id, subject, issuer, thumbprint, host_names, not_before, not_after, key_algorithm, chain_pem, private_key_enc, created_at)
            VALUES (@certificateId, @tenantId, 'CN=device.acme.example', 'CN=device.acme.example', 'ab', ARRAY['device.acme.example'],
                    now() - interval '1 day', now() + interval '30 days', 'RSA', '-----BEGIN CERTIFICATE-----', @keyEnc, now());
            INSERT INTO psk_identities (id, tenant_id, identity, key_enc, created_at) VALUES (@pskId, @tenantId, 'sensor-1', @pskEnc, now());
            INSERT INTO dedicated_ports (port, tenant_id, protocol, created_at) VALUES (20001, @tenantId, 'tcp', now());
            """,
            new
            {
                certificateId,
                tenantId,
                keyEnc = protector.Protect(keyDer, SecretPurposes.CertificateKey, certificateId),
                pskId,
                pskEnc = protector.Protect(Convert.FromHexString("00112233445566778899aabbccddeeff"), SecretPurposes.PskKey, pskId),
            });
        return (certificateId, keyDer);
    }
}
