using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// OpenSSL's own P-256 figures on this machine: <c>openssl speed -seconds S ecdsap256 ecdhp256</c>. Without
/// <c>-elapsed</c>, openssl speed divides by the CPU (user) time of its single thread, so the rates are per core.
/// </summary>
internal sealed partial record OpenSslSpeed(double SignsPerSecond, double VerifiesPerSecond, double EcdhPerSecond, string Version)
{
    /// <summary>Server cost of one full ECDHE-ECDSA handshake as the ideal: one ECDSA sign plus one ECDH.</summary>
    public double IdealEcdsaHandshakesPerSecond => 1 / ((1 / SignsPerSecond) + (1 / EcdhPerSecond));

    /// <summary>Server cost of one full ECDHE-PSK handshake as the ideal: one ECDH.</summary>
    public double IdealPskHandshakesPerSecond => EcdhPerSecond;

    public static async Task<OpenSslSpeed> RunAsync(int seconds)
    {
        var start = new ProcessStartInfo("openssl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "speed", "-seconds", seconds.ToString(CultureInfo.InvariantCulture), "ecdsap256", "ecdhp256" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("openssl did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout;
        await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl speed exited with {process.ExitCode}");
        }

        var ecdsa = EcdsaLine().Match(output);
        var ecdh = EcdhLine().Match(output);
        if (!ecdsa.Success || !ecdh.Success)
        {
            throw new InvalidOperationException("openssl speed output not understood:\n" + output);
        }

        // "version: 3.0.19"
        var version = "OpenSSL " + (output.Split('\n').FirstOrDefault(l => l.StartsWith("version:", StringComparison.Ordinal))?["version:".Length..].Trim() ?? "?");
        return new OpenSslSpeed(
            Number(ecdsa.Groups["sign"].Value),
            Number(ecdsa.Groups["verify"].Value),
            Number(ecdh.Groups["op"].Value),
            version);
    }

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    // " 256 bits ecdsa (nistp256)   0.0000s   0.0000s  70736.2  24196.0"
    [GeneratedRegex(@"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+(?<sign>[0-9.]+)\s+(?<verify>[0-9.]+)")]
    private static partial Regex EcdsaLine();

    // " 256 bits ecdh (nistp256)   0.0000s  32303.5"
    [GeneratedRegex(@"256 bits ecdh \(nistp256\)\s+\S+s\s+(?<op>[0-9.]+)")]
    private static partial Regex EcdhLine();
}
