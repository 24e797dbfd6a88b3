using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tests.Support;

/// <summary>Builders for tenant snapshots and compiled tenants.</summary>
internal static class TestTenants
{
    public static TenantSnapshot Snapshot(
        string slug,
        TenantConfig? config = null,
        long revision = 1,
        string status = "active",
        Guid? id = null,
        IReadOnlyList<CertificateMaterial>? certificates = null,
        IReadOnlyList<DedicatedPortSnapshot>? ports = null,
        IReadOnlyList<string>? hostNames = null) =>
        new(
            id ?? Guid.NewGuid(),
            slug,
            status,
            revision,
            config ?? new TenantConfig(),
            hostNames ?? [$"{slug}.platform.test"],
            ports ?? [],
            certificates ?? [],
            []);

    public static SnapshotCompiler Compiler() =>
        new(Options.Create(new GatewayOptions { PlatformDomain = "platform.test" }), NullLogger<SnapshotCompiler>.Instance);

    public static TenantRuntime Compile(TenantSnapshot snapshot) =>
        Compiler().TryCompile(snapshot) ?? throw new InvalidOperationException("The test tenant does not compile.");

    public static TenantRuntime Tenant(string slug = "acme", TenantConfig? config = null) => Compile(Snapshot(slug, config));
}
