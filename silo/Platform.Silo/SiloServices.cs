namespace Platform.Silo;

/// <summary>Registers the silo's feature services.</summary>
internal static class SiloServices
{
    public static IServiceCollection AddSiloInternals(this IServiceCollection services)
    {
        services.AddSingleton<Microsoft.AspNetCore.Identity.IPasswordHasher<Operators.OperatorAccount>, Microsoft.AspNetCore.Identity.PasswordHasher<Operators.OperatorAccount>>();
        services.AddSingleton<Operators.OperatorStore>();
        return services;
    }
}
