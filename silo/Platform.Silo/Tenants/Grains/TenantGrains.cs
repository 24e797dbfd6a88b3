using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Silo.Security;

namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// How REST handlers reach a tenant's grain: the caller's scope, and the tenant as the caller may see it. Operators see
/// every tenant; a tenant key sees only its own, and any other slug is answered as not found, exactly like a slug that
/// does not exist, so a key learns nothing about other tenants.
/// </summary>
internal static class TenantGrains
{
    /// <summary>The grain of <paramref name="slug"/>, or null for a string that can be no tenant's slug (no grain is activated for it).</summary>
    public static ITenantGrain? For(this IGrainFactory grains, string slug)
    {
        ArgumentNullException.ThrowIfNull(grains);
        return Names.IsValidSlug(slug) ? grains.GetGrain<ITenantGrain>(slug) : null;
    }

    /// <summary>The tenant the caller is limited to; null for an operator. A key without a tenant is limited to none.</summary>
    public static Guid? Scope(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.User.IsOperator() ? null : context.User.TenantScope() ?? Guid.Empty;
    }

    /// <summary>The tenant from its grain's memory, or null when it does not exist or the caller may not see it.</summary>
    public static async Task<TenantState?> GetVisibleAsync(this IGrainFactory grains, HttpContext context, string slug)
    {
        if (grains.For(slug) is not { } grain)
        {
            return null;
        }

        var tenant = await grain.GetAsync();
        return tenant is not null && tenant.VisibleTo(context.Scope()) ? tenant : null;
    }
}
