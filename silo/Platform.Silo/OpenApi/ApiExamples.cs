using Platform.Contracts.ApiKeys;
using Platform.Contracts.Audit;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.HostNames;
using Platform.Contracts.Operators;
using Platform.Contracts.Plans;
using Platform.Contracts.Psk;
using Platform.Contracts.RawKeys;
using Platform.Contracts.Stats;
using Platform.Contracts.Tenants;
using Platform.Contracts.Usage;
using Platform.Contracts.Webhooks;
using Platform.Silo.Tenants;

namespace Platform.Silo.OpenApi;

/// <summary>
/// Request and answer examples of the reference, built from the contract types so that they cannot drift from the shape
/// the API speaks (the document test validates each one against its schema).
/// </summary>
internal static class ApiExamples
{
    private static readonly DateTimeOffset At = new(2026, 3, 2, 9, 30, 0, TimeSpan.Zero);
    private static readonly Guid TenantId = Guid.Parse("0195a1f2-7c3e-7a10-9d2b-5c41e8f0a001");

    public static readonly TenantConfig Config = new()
    {
        Limits = new LimitsConfig { MaxConnections = 500, ConnectionsPerSecond = 50, MaxConnectionsPerClient = 10 },
        Access = new AccessConfig { AllowedClients = "*", BlockedClients = "203.0.113.0/24" },
        Listeners = ["tls", "wss", "dtls"],
        HostNames = ["devices.acme.example"],
    };

    public static readonly TenantPlan Plan = new() { MaxConnections = 1000, DedicatedPorts = 2, Certificates = 5, HostNames = 5 };

    public static readonly DedicatedPortResponse Port = new(20001, DedicatedPortProtocols.Tls, At);

    public static readonly CreateTenantRequest CreateTenant = new("acme", "Acme Devices", Config, Plan);

    public static readonly UpdateTenantRequest UpdateTenant = new("Acme Devices Ltd");

    public static readonly TenantResponse Tenant = new(TenantId, "acme", "Acme Devices", TenantStatuses.Active, 42,
        ["acme.platform.example", "devices.acme.example"], [Port], At, At);

    public static readonly Page<TenantResponse> Tenants = new([Tenant], 1, 0, 100);

    public static readonly ConfigResponse ConfigAnswer = new(42, Config);

    public static readonly TenantPlanResponse PlanAnswer = new(Plan, new TenantPlanUsage(1, 1, 0, 2, 1));

    public static readonly HostNameResponse PendingHostName = new("devices.acme.example", [HostNameSources.Config], HostNameStatuses.Pending,
        "_platform-challenge.devices.acme.example", "pc_3q9t7mXk2vB8", null, null, "no TXT record found");

    public static readonly HostNameResponse VerifiedHostName = PendingHostName with
    {
        Status = HostNameStatuses.Verified,
        VerifiedAt = At,
        VerifiedBy = HostNameVerifiers.Dns,
        LastCheck = null,
    };

    public static readonly Page<HostNameResponse> HostNames = new([PendingHostName], 1, 0, 100);

    public static readonly AllocatePortRequest AllocatePort = new(DedicatedPortProtocols.Tls);

    public static readonly Page<DedicatedPortResponse> Ports = new([Port], 1, 0, 100);

    // A placeholder, not PEM: the document carries no key material, not even an example's (a test scans every answer for it).
    public static readonly UploadCertificateRequest UploadCertificate = new(
        Pem: "<the certificate, any intermediates and the certificate's private key, each as a PEM block>");

    public static readonly CertificateResponse Certificate = new(Guid.Parse("6f1c2d9e-4b7a-4f0e-9a51-2c8d7e3b1a40"), "CN=devices.acme.example",
        "CN=Example Issuing CA", "9F2B6C0D4E8A1B3C5D7E9F0A2B4C6D8E0F1A3B5C7D9E1F3A5B7C9D1E3F5A7B9C", ["devices.acme.example"],
        At.AddDays(-1), At.AddDays(89), "ECDSA P-256", At);

    public static readonly Page<CertificateResponse> Certificates = new([Certificate], 1, 0, 100);

    public static readonly CreateApiKeyRequest CreateApiKey = new("billing backend");

    public static readonly ApiKeyResponse ApiKey = new(Guid.Parse("2d7e9c41-0b3a-4c5e-8f61-7a9b0c1d2e3f"), "billing backend", "tk_2d7e9c41", At, null, null);

    public static readonly CreatedApiKeyResponse CreatedApiKey = new(ApiKey, "tk_2d7e9c410b3a4c5e8f617a9b0c1d2e3f_J8s2kQ0vX7mN4pL6rT1yW3zA5bC9dE");

    public static readonly Page<ApiKeyResponse> ApiKeys = new([ApiKey], 1, 0, 100);

    public static readonly CreatePskIdentityRequest CreatePskIdentity = new("sensor-0042", "8d3f0a61c2b74e95a0d1c3e5f7092b4d");

    public static readonly PskIdentityResponse PskIdentity = new(Guid.Parse("7b0e5c2a-9d41-4f3b-8e6a-1c2d3e4f5a6b"), "sensor-0042", "acme/sensor-0042", At);

    public static readonly Page<PskIdentityResponse> PskIdentities = new([PskIdentity], 1, 0, 100);

    public static readonly CreateRawPublicKeyRequest CreateRawPublicKey = new(
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeSTD86SPa53ucxFsE8TxsCbrRTzZ\nul1oB9Ai5okMABwPKbxt6e3nlK0tcF6wSVHNP6mJ1turqk3XApVMfPuiJw==\n-----END PUBLIC KEY-----\n",
        "meter-0042");

    public static readonly RawPublicKeyResponse RawPublicKey = new(Guid.Parse("3c9d1e7a-5b20-4f8e-9a61-2d4c6e8f0b13"), "meter-0042",
        "5ec16b69002e7fcf225357b4d35d5df1428743bd74e2cda6b0f5d39e77c94b29", RawPublicKeyAlgorithms.EcP256, At);

    public static readonly Page<RawPublicKeyResponse> RawPublicKeys = new([RawPublicKey], 1, 0, 100);

    public static readonly ConnectionResponse Connection = new("gw-eu-1.1f4", "gw-eu-1", ConnectionProtocols.Wss, "198.51.100.23", 50432, 8443,
        At, null, null, null, 1024, 4096, 12, 30, At.AddMinutes(5),
        new TlsFacts("devices.acme.example", "Tls13", "TLS_AES_128_GCM_SHA256", null, null, null, null, null),
        new WebSocketFacts("/telemetry", null, "mqtt", "devices.acme.example", false),
        new Dictionary<string, string> { ["user"] = "u-42", ["plan"] = "gold" });

    public static readonly Page<ConnectionResponse> Connections = new([Connection], 1, 0, 100);

    public static readonly SendMessageRequest SendMessage = new(Text: "{\"command\":\"reboot\"}");

    public static readonly DisconnectRequest Disconnect = new(4000, "maintenance");

    public static readonly BroadcastResponse Broadcast = new(37, 2);

    public static readonly GatewayResponse Gateway = new("gw-eu-1", "1.4.0", ["ws:8080", "wss:8443", "tls:7443"],
        GatewayStatuses.Up, At.AddDays(-2), At, 1250, 42);

    public static readonly Page<GatewayResponse> Gateways = new([Gateway], 1, 0, 100);

    public static readonly Page<SiloResponse> Silos = new(
        [
            new SiloResponse("silo-a", "cp-1", "10.0.0.11", 11111, 30000, 345678901, SiloStatuses.Active, At.AddDays(-2), At, 0),
            new SiloResponse("silo-b", "cp-2", "10.0.0.12", 11111, 30000, 345600000, SiloStatuses.Dead, At.AddDays(-3), At.AddDays(-2), 1),
        ], 2, 0, 100);

    public static readonly DrainGatewayRequest DrainGateway = new(300);

    public static readonly AuditEntryResponse AuditEntry = new(1207, At, "operator:alice", "acme", "config.replace", "acme", 41, 42,
        "{\"webhookSecretChanged\":false}");

    public static readonly Page<AuditEntryResponse> AuditEntries = new([AuditEntry], 1, 0, 100);

    public static readonly RefusalReport Refusals = new(At.AddHours(-1), 14,
        [new RefusalReasonTotal("max_connections", 9), new RefusalReasonTotal("not_allowed", 5)],
        new Page<RefusalBucket>([new RefusalBucket(At.AddMinutes(-3), "acme", ConnectionProtocols.Wss, "max_connections", 9)], 1, 0, 100));

    public static readonly PlatformStatsResponse Stats = new(At, 12, 1250,
        new Dictionary<string, long> { [ConnectionProtocols.Wss] = 900, [ConnectionProtocols.Tls] = 300, [ConnectionProtocols.Dtls] = 50 },
        [new MinuteStats(At.AddMinutes(-1), 1248, 17), new MinuteStats(At, 1250, 9)],
        [new ExpiringCertificate("acme", Certificate.Id, Certificate.Subject, Certificate.HostNames, At.AddDays(20))]);

    public static readonly CreateOperatorRequest CreateOperator = new("alice", "correct horse battery staple");

    public static readonly OperatorResponse Operator = new(Guid.Parse("0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"), "alice", At, At, null);

    public static readonly VerifyOperatorRequest VerifyOperator = new("alice", "correct horse battery staple");

    public static readonly VerifiedOperatorResponse VerifiedOperator = new("alice");

    private static readonly UsageFigures UsageHour = new(5400.5m, 3, 4, 120, 118, 48_213, 51_007);

    public static readonly TenantUsageResponse TenantUsage = new(
        "acme", At.AddHours(-2), At, UsageGranularities.Hour, At, UsageHour,
        [new UsageBucket(new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero), ConnectionProtocols.Wss, UsageHour)]);

    public static readonly UsageExportResponse UsageExport = new(
        At.AddHours(-2), At, At,
        [new UsageExportRow(TenantId, "acme", new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero), ConnectionProtocols.Wss, UsageHour)]);

    public static readonly WebhookStatusResponse WebhookStatus = new(
        "acme", At.AddHours(-24), At, At, new WebhookValidation(WebhookValidationStates.Validated, At.AddMinutes(-40)), 1_204, 7,
        [new WebhookEventCounts(WebhookEventTypes.Connect, 310, 5), new WebhookEventCounts(WebhookEventTypes.Messages, 894, 2)],
        [
            new WebhookFailureCount(WebhookFailureKinds.Timeout, WebhookEventTypes.Connect, 4),
            new WebhookFailureCount(WebhookFailureKinds.Garbage, WebhookEventTypes.Connect, 1),
            new WebhookFailureCount(WebhookFailureKinds.HttpStatus, WebhookEventTypes.Messages, 2),
        ],
        new WebhookLastFailure(At.AddMinutes(-3), WebhookEventTypes.Messages, WebhookFailureKinds.HttpStatus, 503,
            WebhookFailureKinds.Describe(WebhookFailureKinds.HttpStatus, 503)));
}
