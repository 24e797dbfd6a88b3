using System.Security.Cryptography;

namespace Platform.Benchmarks;

/// <summary>Throwaway secrets of one run's silos (every silo of a cluster shares them).</summary>
internal sealed record SiloKeys(string MasterKey, string OperatorKey, string ClusterSecret)
{
    public static SiloKeys Create() => new(
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        "op_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
        "cs_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));
}
