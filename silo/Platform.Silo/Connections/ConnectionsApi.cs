namespace Platform.Silo.Connections;

internal static class ConnectionsApi
{
    public static RouteGroupBuilder MapConnectionsApi(this RouteGroupBuilder group) => group;
}
