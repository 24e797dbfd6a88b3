namespace Platform.Silo.Audit;

internal static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this RouteGroupBuilder group) => group;
}
