namespace Platform.Testing;

/// <summary>What every silo of one test cluster shares; <see cref="SiloProcess"/> hands them over as files.</summary>
public sealed record SiloSecrets(string ConnectionString, string MasterKey, string OperatorKey)
{
    // Secrets stay out of test output and assertion messages.
    public override string ToString() => "SiloSecrets { (hidden) }";
}
