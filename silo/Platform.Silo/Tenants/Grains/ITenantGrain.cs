using Orleans.Concurrency;

namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// One tenant (key: its slug, the REST identity, so concurrent creates of one slug meet in one grain). Reads of the
/// tenant and its configuration are answered from memory; every write goes through the grain's one write routine and is
/// committed to PostgreSQL before the call returns. <c>scope</c> is the tenant a tenant key is limited to (null for an
/// operator): a tenant the caller may not see is answered as missing.
/// </summary>
[Alias("platform.tenants.tenant")]
internal interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>The tenant as last committed, or null when there is none.</summary>
    [ReadOnly, Alias("get")]
    Task<TenantState?> GetAsync();

    [Alias("create")]
    Task<TenantReply> CreateAsync(CreateTenantCommand command);

    [Alias("rename")]
    Task<TenantReply> RenameAsync(Guid? scope, string displayName, string actor);

    [Alias("set-status")]
    Task<TenantReply> SetStatusAsync(Guid? scope, string status, string actor);

    [Alias("delete")]
    Task<TenantReply> DeleteAsync(Guid? scope, string actor);

    [Alias("replace-config")]
    Task<TenantReply> ReplaceConfigAsync(ReplaceConfigCommand command);

    [Alias("replace-plan")]
    Task<TenantReply> ReplacePlanAsync(Guid? scope, string planJson, string actor);

    [Alias("allocate-port")]
    Task<TenantReply> AllocatePortAsync(Guid? scope, string protocol, string actor);

    [Alias("release-port")]
    Task<TenantReply> ReleasePortAsync(Guid? scope, int port, string actor);

    [Alias("upload-certificate")]
    Task<TenantReply> UploadCertificateAsync(Guid? scope, CertificateRecord certificate, string source, string actor);

    [Alias("delete-certificate")]
    Task<TenantReply> DeleteCertificateAsync(Guid? scope, Guid? certificateId, string actor);

    [Alias("create-psk")]
    Task<TenantReply> CreatePskAsync(Guid? scope, Guid id, string identity, byte[] keyEnc, string actor);

    [Alias("delete-psk")]
    Task<TenantReply> DeletePskAsync(Guid? scope, Guid? id, string actor);

    [Alias("create-raw-public-key")]
    Task<TenantReply> CreateRawPublicKeyAsync(Guid? scope, Guid id, string? name, RawKeys.ParsedRawPublicKey key, string actor);

    [Alias("delete-raw-public-key")]
    Task<TenantReply> DeleteRawPublicKeyAsync(Guid? scope, RawKeys.RawPublicKeyRef? key, string actor);

    /// <summary>Marks a claimed name verified (<paramref name="expectedToken"/>: the token DNS was checked for; null for an operator's approval).</summary>
    [Alias("verify-host-name")]
    Task<TenantReply> VerifyHostNameAsync(Guid? scope, string name, string? expectedToken, string verifiedBy, string action, string actor);

    /// <summary>Rebuilds the claims for the platform domain <paramref name="domain"/> when the tenant's own name is not verified under it.</summary>
    [Alias("reconcile-host-names")]
    Task<TenantReply> ReconcileHostNamesAsync(string domain);
}
