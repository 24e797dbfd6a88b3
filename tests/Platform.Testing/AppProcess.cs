using System.Diagnostics;
using System.Reflection;

namespace Platform.Testing;

/// <summary>
/// Starts one of the platform's own programs (<c>dotnet Platform.Silo.dll</c>, <c>dotnet Platform.Gateway.dll</c>) the way
/// <c>infra/run.sh</c> starts them: secrets as one file per setting in <paramref name="secretsDirectory"/>
/// (<c>PLATFORM_SECRETS_DIR</c>, never the environment, which is readable under /proc), every other setting in the
/// environment (<c>Platform:X</c> as <c>Platform__X</c>), the Production environment, stdout and stderr line by line to
/// <paramref name="collect"/>.
/// </summary>
internal static class AppProcess
{
    public static Process Start(string assembly, string secretsDirectory, IEnumerable<KeyValuePair<string, string?>> settings, Action<string> collect)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(assembly);
        info.Environment["PLATFORM_SECRETS_DIR"] = secretsDirectory;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                collect(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                collect(line);
            }
        };
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        catch
        {
            process.Dispose();
            throw;
        }

        return process;
    }

    /// <summary>
    /// The build output of one of the platform's projects (<paramref name="project"/> under its folder), of the
    /// configuration <paramref name="of"/> was built in: the test projects reference it, so it is built with them.
    /// </summary>
    public static string BuildOutput(Assembly of, string folder, string project)
    {
        var configuration = of.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Platform.sln")))
            {
                var path = Path.Combine(directory.FullName, folder, project, "bin", configuration, "net10.0", project + ".dll");
                return File.Exists(path)
                    ? path
                    : throw new InvalidOperationException($"{path} does not exist: build {folder}/{project} in {configuration} first.");
            }
        }

        throw new InvalidOperationException($"No Platform.sln above {AppContext.BaseDirectory}: cannot find the build output of {project}.");
    }
}
