namespace Platform.Silo.Psk;

internal static class PskApi
{
    public static RouteGroupBuilder MapPskApi(this RouteGroupBuilder group) => group;
}
