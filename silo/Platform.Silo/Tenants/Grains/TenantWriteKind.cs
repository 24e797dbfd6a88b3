namespace Platform.Silo.Tenants.Grains;

/// <summary>How the tenant write routine prepares a change.</summary>
internal enum TenantWriteKind
{
    /// <summary>Changes an existing tenant and takes a revision (gateways see it).</summary>
    Revision,

    /// <summary>Changes an existing tenant without a revision (nothing gateways serve changes).</summary>
    Plain,

    /// <summary>Creates the tenant (the change refuses an existing one) and takes a revision.</summary>
    Create,
}
