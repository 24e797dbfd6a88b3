using Platform.Cluster.Tls;
using Platform.Testing;

namespace Platform.Silo.Tests.Cluster;

/// <summary>Loading the cluster TLS files: what is wrong with them is said naming the setting, before anything listens.</summary>
public sealed class ClusterTlsMaterialTests
{
    [Fact]
    public void Load_SiloCertificate_KeyAttachedAndBundleRead()
    {
        var material = ClusterCertificates.Cluster.Silo.Load(ClusterTlsRole.Silo);

        Assert.True(material.Certificate.HasPrivateKey);
        Assert.Equal(ClusterCertificates.Cluster.Certificate.Thumbprint, Assert.Single(material.Authorities).Thumbprint);
    }

    [Theory]
    [InlineData("CertificatePath")]
    [InlineData("KeyPath")]
    [InlineData("CaPath")]
    public void Load_FileMissing_NamesSetting(string setting)
    {
        var files = ClusterCertificates.Cluster.Silo;
        var missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.pem");
        files = setting switch
        {
            "CertificatePath" => files with { CertificatePath = missing },
            "KeyPath" => files with { KeyPath = missing },
            _ => files with { CaPath = missing },
        };

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.Equal($"Platform:Cluster:Tls:{setting}: {missing} does not exist.", error.Message);
    }

    [Fact]
    public void Load_KeyOfAnotherCertificate_Refused()
    {
        var other = ClusterCertificates.Cluster.Issue("other", serverAuth: true, clientAuth: true);
        var files = ClusterCertificates.Cluster.Silo with { KeyPath = other.KeyPath };

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.StartsWith("Platform:Cluster:Tls:KeyPath:", error.Message, StringComparison.Ordinal);
        Assert.Contains("no private key that matches the certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CertificateOfCaNotInBundle_Refused()
    {
        var files = ClusterCertificates.CreateAuthority("outside").Issue("outsider", serverAuth: true, clientAuth: true)
            .Trusting(ClusterCertificates.Cluster.CaPath);

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.StartsWith("Platform:Cluster:Tls:CertificatePath:", error.Message, StringComparison.Ordinal);
        Assert.Contains("not issued by a CA of the bundle", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ExpiredCertificate_Refused()
    {
        var now = DateTimeOffset.UtcNow;
        var files = ClusterCertificates.Cluster.Issue("expired", serverAuth: true, clientAuth: true, now.AddDays(-60), now.AddDays(-1));

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.StartsWith("Platform:Cluster:Tls:CertificatePath:", error.Message, StringComparison.Ordinal);
        Assert.Contains("expired on", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GatewayCertificateForSilo_RefusedButFitsClient()
    {
        var files = ClusterCertificates.Cluster.Issue("gateway-1", serverAuth: false, clientAuth: true);

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.Contains("lacks server authentication", error.Message, StringComparison.Ordinal);
        Assert.Equal(ClusterTlsRole.Client, files.Load(ClusterTlsRole.Client).Role);
    }

    [Fact]
    public void Load_LeafInCaBundle_Refused()
    {
        var files = ClusterCertificates.Cluster.Silo.Trusting(ClusterCertificates.Cluster.Silo.CertificatePath);

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.StartsWith("Platform:Cluster:Tls:CaPath:", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not a CA certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CertificateFileWithoutPem_Refused()
    {
        var files = ClusterCertificates.Cluster.Silo with { CertificatePath = ClusterCertificates.Cluster.Silo.KeyPath };

        var error = Assert.Throws<InvalidOperationException>(() => files.Load(ClusterTlsRole.Silo));

        Assert.StartsWith("Platform:Cluster:Tls:CertificatePath:", error.Message, StringComparison.Ordinal);
        Assert.Contains("holds no PEM certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silo_WithoutTlsSettings_RefusesToStartNamingSetting()
    {
        await using var database = await TestDatabase.CreateAsync();
        var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:Cluster:Tls:CaPath"] = "" });
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => silo.Server);

            Assert.StartsWith("Platform:Cluster:Tls:CaPath is required", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }
}
