using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Tenants;

/// <summary>
/// The fail-static file: the last applied snapshot, so a gateway restarted while no silo answers still
/// serves. It holds private keys and PSKs, so it is sealed with AES-GCM under a key derived from the
/// gateway's snapshot key (<c>Platform:SnapshotKey</c>), and replaced atomically (temp file, then rename) so a crash never leaves half a file.
/// File layout: version byte, 12-byte nonce, 16-byte tag, ciphertext of the JSON <see cref="ConfigWatchResponse"/>.
/// </summary>
internal sealed partial class SnapshotPersistence
{
    private const byte FormatVersion = 1;
    private const string FileName = "snapshot.bin";
    private static readonly byte[] Salt = Encoding.UTF8.GetBytes("platform-gateway-snapshot");
    private readonly byte[] _key;
    private readonly string _path;
    private readonly ILogger<SnapshotPersistence> _logger;

    public SnapshotPersistence(IOptions<GatewayOptions> options, ILogger<SnapshotPersistence> logger)
    {
        var settings = options.Value;
        var secret = settings.SnapshotKeyBytes();
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, Salt, "snapshot-v1"u8.ToArray());
        CryptographicOperations.ZeroMemory(secret);
        _path = Path.GetFullPath(Path.Combine(settings.StateDirectory, FileName));
        _logger = logger;
    }

    public string FilePath => _path;

    public async Task SaveAsync(GatewaySnapshot snapshot, CancellationToken cancellationToken)
    {
        var tenants = new List<TenantSnapshot>(snapshot.ById.Count);
        foreach (var tenant in snapshot.ById.Values)
        {
            tenants.Add(tenant.Source);
        }

        var plain = JsonSerializer.SerializeToUtf8Bytes(new ConfigWatchResponse(snapshot.Revision, true, tenants, []), PlatformJson.Options);
        await WriteSealedAsync(plain, cancellationToken);
        Log.Saved(_logger, snapshot.Revision, _path);
    }

    /// <summary>Seals <paramref name="plain"/> (zeroed afterwards) and replaces the file with it.</summary>
    internal async Task WriteSealedAsync(byte[] plain, CancellationToken cancellationToken)
    {
        var sealedBytes = new byte[1 + 12 + 16 + plain.Length];
        sealedBytes[0] = FormatVersion;
        var nonce = sealedBytes.AsSpan(1, 12);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(_key, 16))
        {
            aes.Encrypt(nonce, plain, sealedBytes.AsSpan(29), sealedBytes.AsSpan(13, 16), [FormatVersion]);
        }

        CryptographicOperations.ZeroMemory(plain);
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + "." + Environment.ProcessId + ".tmp";
        await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            await file.WriteAsync(sealedBytes, cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, _path, overwrite: true);
    }

    /// <summary>Reads the file; null when there is none or it cannot be opened with this snapshot key (logged).</summary>
    public ConfigWatchResponse? TryLoad()
    {
        if (!File.Exists(_path))
        {
            return null;
        }

        try
        {
            var sealedBytes = File.ReadAllBytes(_path);
            if (sealedBytes.Length < 29 || sealedBytes[0] != FormatVersion)
            {
                Log.Unreadable(_logger, _path, "unknown format");
                return null;
            }

            var plain = new byte[sealedBytes.Length - 29];
            using (var aes = new AesGcm(_key, 16))
            {
                aes.Decrypt(sealedBytes.AsSpan(1, 12), sealedBytes.AsSpan(29), sealedBytes.AsSpan(13, 16), plain, [FormatVersion]);
            }

            // Tolerant: after a rollback the build before reads the file the newer one wrote, and keeps what it knows.
            var result = JsonSerializer.Deserialize<ConfigWatchResponse>(plain, PlatformJson.Tolerant);
            CryptographicOperations.ZeroMemory(plain);
            return result;
        }
        catch (AuthenticationTagMismatchException)
        {
            Log.Unreadable(_logger, _path, "sealed under another snapshot key or damaged");
            return null;
        }
        catch (JsonException ex)
        {
            Log.Unreadable(_logger, _path, ex.Message);
            return null;
        }
        catch (IOException ex)
        {
            Log.Unreadable(_logger, _path, ex.Message);
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Debug, Message = "Snapshot revision {Revision} saved to {Path}")]
        public static partial void Saved(ILogger logger, long revision, string path);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Fail-static snapshot {Path} not used: {Reason}")]
        public static partial void Unreadable(ILogger logger, string path, string reason);
    }
}
