using Platform.Silo.Internal;

namespace Platform.Silo;

/// <summary>Registers the silo's feature services.</summary>
internal static class SiloServices
{
    public static IServiceCollection AddSiloInternals(this IServiceCollection services) => services
        .AddGatewayServices()
        .AddSingleton<Certificates.CertificateStore>()
        .AddSingleton<Psk.PskStore>()
        .AddSingleton<Microsoft.AspNetCore.Identity.IPasswordHasher<Operators.OperatorAccount>, Microsoft.AspNetCore.Identity.PasswordHasher<Operators.OperatorAccount>>()
        .AddSingleton<Operators.OperatorStore>();
}
