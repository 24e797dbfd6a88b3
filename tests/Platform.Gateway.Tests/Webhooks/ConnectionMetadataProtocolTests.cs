using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>
/// The connect answer's metadata and forward target reach the connection directory
/// (<c>GET /v1/tenants/{slug}/connections</c>) over every protocol the gateway pumps, not only WebSocket
/// (<see cref="ConnectionMetadataTests"/>): raw TCP on a dedicated port, TLS by SNI with <c>openssl s_client</c>, DTLS
/// with a pre-shared key with <c>openssl s_client -dtls1_2</c>. Real gateway, silo, PostgreSQL, receiver and backends.
/// </summary>
public sealed class ConnectionMetadataProtocolTests
{
    private const string Secret = "whsec-proto-0123456789abcdef";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ConnectOverRawTcp_AnswerWithMetadataAndForward_EchoedAndDirectoryShowsBoth()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var backend = new TcpEchoBackend();
        var range = FreePorts.Range(1);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme", Hooked(receiver));
        var port = (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp)).Port;
        await using var gateway = await silo.StartGatewayAsync(settings: GatewayPortRange(range));
        await gateway.WaitForTenantAsync("acme");
        receiver.Answer = _ => Answer(new { forward = new { host = "127.0.0.1", port = backend.Port }, metadata = new Dictionary<string, string> { ["device"] = "tcp-7", ["Site.Id"] = "lab é" } });

        using var client = await ConnectTcpAsync(port);
        var stream = client.GetStream();
        await stream.WriteAsync("over raw tcp\n"u8.ToArray());
        Assert.Equal("over raw tcp\n", await ReadAsync(stream, "over raw tcp\n".Length));

        var listed = await ListedAsync(silo, receiver, ConnectionProtocols.Tcp);
        Assert.Equal(new Dictionary<string, string> { ["device"] = "tcp-7", ["Site.Id"] = "lab é" }, listed.Metadata);
        Assert.Equal($"127.0.0.1:{backend.Port}", listed.ForwardTarget);
        Assert.Equal(1, backend.Accepted);
    }

    [Fact]
    public async Task ConnectOverTls_AnswerWithMetadataAndForward_OpenSslEchoedAndDirectoryShowsBoth()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var backend = new TcpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver));
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        receiver.Answer = _ => Answer(new { forward = new { host = "127.0.0.1", port = backend.Port }, metadata = new { device = "tls-9", plan = "Gold tier" } });

        await using var openssl = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", "-quiet");
        await openssl.WriteAsync("over tls\n");
        await openssl.WaitForOutputAsync("over tls");

        var listed = await ListedAsync(silo, receiver, ConnectionProtocols.Tls);
        Assert.Equal(new Dictionary<string, string> { ["device"] = "tls-9", ["plan"] = "Gold tier" }, listed.Metadata);
        Assert.Equal($"127.0.0.1:{backend.Port}", listed.ForwardTarget);
        Assert.Equal("acme.platform.test", listed.Tls!.Sni);
    }

    [Fact]
    public async Task ConnectOverDtlsPsk_AnswerWithMetadata_MessagesToTheWebhookAndDirectoryShowsMetadata()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver));
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);

        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.PskIdentities.Count == 1);
        receiver.Answer = _ => Answer(new { metadata = new { device = "dtls-3", firmware = "1.4.2" } });

        // The DTLS engine takes the key a moment after the snapshot: a handshake before that fails, and is tried again.
        await using var peer = await ConnectDtlsAsync(gateway.DtlsPort, key);
        var listed = await ListedAsync(silo, receiver, ConnectionProtocols.Dtls);
        Assert.Equal(new Dictionary<string, string> { ["device"] = "dtls-3", ["firmware"] = "1.4.2" }, listed.Metadata);
        Assert.Null(listed.ForwardTarget);
        Assert.Equal("acme/dev1", listed.Tls!.PskIdentity);

        // With no forward target the datagrams go to the webhook, as messages of that connection.
        await peer.WriteLineAsync("over dtls");
        var text = new StringBuilder();
        while (!text.ToString().Contains("over dtls", StringComparison.Ordinal))
        {
            var batch = await receiver.NextAsync("messages");
            foreach (var message in batch.Json.GetProperty("messages").EnumerateArray())
            {
                Assert.Equal(listed.Id, message.GetProperty("connectionId").GetString());
                text.Append(Encoding.UTF8.GetString(message.GetProperty("data").GetBytesFromBase64()));
            }
        }
    }

    /// <summary>The connection the next connect event named, once the directory lists it (with its protocol).</summary>
    private static async Task<ConnectionResponse> ListedAsync(SiloFixture silo, WebhookReceiver receiver, string protocol)
    {
        var connect = await receiver.NextAsync("connect");
        Assert.True(connect.SignatureValid);
        Assert.Equal(protocol, connect.Json.GetProperty("protocol").GetString());
        var id = connect.Json.GetProperty("connectionId").GetString()!;
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Id == id && c.Metadata is not null);
        Assert.Equal(protocol, listed.Protocol);
        Assert.Empty(await silo.Silo.CheckExchangesAsync());
        return listed;
    }

    /// <summary>Connects to the tenant's dedicated port, trying again while the gateway does not listen on it yet.</summary>
    private static async Task<TcpClient> ConnectTcpAsync(int port)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                return client;
            }
            catch (SocketException) when (waited.Elapsed < Patience)
            {
                client.Dispose();
                await Task.Delay(100);
            }
        }
    }

    private static async Task<string> ReadAsync(NetworkStream stream, int length)
    {
        using var limit = new CancellationTokenSource(Patience);
        var buffer = new byte[length];
        await stream.ReadExactlyAsync(buffer, limit.Token);
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>An <c>openssl s_client -dtls1_2</c> with the tenant's PSK, started again until its handshake completes.</summary>
    private static async Task<PeerProcess> ConnectDtlsAsync(int port, string key)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{port} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
            var connected = peer.WhenLine(line => line.Contains("Cipher is PSK-AES128-GCM-SHA256", StringComparison.Ordinal));
            var attempt = Stopwatch.StartNew();
            while (!connected.IsCompleted && !peer.HasExited && attempt.Elapsed < PeerProcess.Wait)
            {
                await Task.WhenAny(connected, Task.Delay(100));
            }

            if (connected.IsCompleted)
            {
                return peer;
            }

            var output = peer.Output;
            await peer.DisposeAsync();
            if (waited.Elapsed > Patience)
            {
                Assert.Fail($"openssl s_client -dtls1_2 did not complete a handshake within {Patience.TotalSeconds} s:\n{output}");
            }

            await Task.Delay(200);
        }
    }

    private static Task<(int, string?, string?)> Answer(object body) =>
        Task.FromResult<(int, string?, string?)>((200, JsonSerializer.Serialize(body), null));

    private static TenantConfig Hooked(WebhookReceiver receiver) => new()
    {
        Delivery = new DeliveryConfig
        {
            Mode = DeliveryModes.Webhook,
            Webhook = new WebhookConfig { Url = receiver.Url, Secret = Secret, TimeoutSeconds = 5 },
        },
    };
}
