using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Support;

/// <summary>
/// HAProxy terminating TLS for <see cref="HostName"/> on a loopback port and passing plain HTTP to a backend,
/// with <c>X-Forwarded-Proto: https</c> and <c>X-Forwarded-For</c>, as an operator would put it in front of the
/// portal. It connects to the backend from <see cref="SourceAddress"/>, so that the proxy's address differs from
/// the test's own direct connections (127.0.0.1).
/// </summary>
internal sealed class TlsTerminatingProxy : IAsyncDisposable
{
    public const string HostName = "portal.test";
    public static readonly IPAddress SourceAddress = IPAddress.Parse("127.0.0.2");

    private readonly PeerProcess _haproxy;
    private readonly string _directory;
    private readonly X509Certificate2 _certificate;

    private TlsTerminatingProxy(PeerProcess haproxy, string directory, X509Certificate2 certificate, int port)
    {
        _haproxy = haproxy;
        _directory = directory;
        _certificate = certificate;
        Port = port;
    }

    public int Port { get; }

    public Uri BaseAddress => new($"https://{HostName}:{Port}/");

    public static async Task<TlsTerminatingProxy> StartAsync(Uri backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var directory = Directory.CreateTempSubdirectory("portal-proxy-").FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={HostName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(HostName);
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificate = X509CertificateLoader.LoadCertificate(created.Export(X509ContentType.Cert));
        var pem = Path.Combine(directory, "portal.pem");
        await File.WriteAllTextAsync(pem, created.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");
        var port = FreePorts.Tcp();
        var config = Path.Combine(directory, "haproxy.cfg");
        await File.WriteAllTextAsync(config, $"""
            global
                maxconn 64
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend portal_tls
                bind 127.0.0.1:{port} ssl crt {pem}
                http-request set-header X-Forwarded-Proto https
                option forwardfor
                default_backend portal
            backend portal
                server portal {backend.Host}:{backend.Port} source {SourceAddress}

            """);
        var haproxy = PeerProcess.Start("haproxy", $"-db -f {config}");
        var proxy = new TlsTerminatingProxy(haproxy, directory, certificate, port);
        try
        {
            await proxy.WaitListeningAsync();
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }

        return proxy;
    }

    /// <summary>
    /// A client of <see cref="BaseAddress"/> that resolves <see cref="HostName"/> to the proxy's loopback port and
    /// trusts exactly its certificate; it keeps cookies as a browser does (<c>Secure</c> ones only over https).
    /// </summary>
    public HttpClient Client(CookieContainer cookies)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            CookieContainer = cookies,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHashString(HashAlgorithmName.SHA256) == _certificate.GetCertHashString(HashAlgorithmName.SHA256),
            },
        };
        return new HttpClient(handler) { BaseAddress = BaseAddress };
    }

    public async ValueTask DisposeAsync()
    {
        await _haproxy.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task WaitListeningAsync()
    {
        using var limit = new CancellationTokenSource(PeerProcess.Wait);
        while (true)
        {
            if (_haproxy.HasExited)
            {
                throw new InvalidOperationException($"haproxy exited:{_haproxy.Output}");
            }

            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), limit.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, limit.Token);
            }
        }
    }
}
