namespace Platform.Silo.Internal;

internal static class InternalApi
{
    public static WebApplication MapInternalApi(this WebApplication app) => app;
}
