using Platform.Silo.Internal;

namespace Platform.Silo;

/// <summary>Registers the silo's feature services.</summary>
internal static class SiloServices
{
    public static IServiceCollection AddSiloInternals(this IServiceCollection services) => services
        .AddInternalApi()
        .AddSingleton<Certificates.CertificateStore>()
        .AddSingleton<Psk.PskStore>();
}
