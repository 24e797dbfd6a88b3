namespace Platform.Silo.Certificates;

internal static class CertificatesApi
{
    public static RouteGroupBuilder MapCertificatesApi(this RouteGroupBuilder group) => group;
}
