namespace Platform.Silo.ApiKeys;

internal static class ApiKeysApi
{
    public static RouteGroupBuilder MapApiKeysApi(this RouteGroupBuilder group) => group;
}
