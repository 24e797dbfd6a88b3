namespace Platform.Silo.Tenants;

internal static class TenantsApi
{
    public static RouteGroupBuilder MapTenantsApi(this RouteGroupBuilder group) => group;
}
