using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Platform.Gateway.Dtls;
using Platform.Gateway.Dtls.Interop;
using Platform.Gateway.Dtls.Tenants;

// Usage:
//   serve <port> <pem-file> <host-name> <slug> <psk-hex>   echo listener for manual checks with openssl/gnutls
//   handshakes <seconds>                                   full handshakes per second, ECDHE-ECDSA P-256 and ECDHE-PSK
var mode = args.Length > 0 ? args[0] : "handshakes";
if (mode == "serve")
{
    var tenant = new DtlsTenantSettings
    {
        TenantId = "t-" + args[4],
        Slug = args[4],
        CertificatePems = [File.ReadAllText(args[2])],
        HostNames = [args[3]],
        PreSharedKeys = new Dictionary<string, byte[]> { ["dev1"] = Convert.FromHexString(args[5]) },
    };
    var errors = new List<KeyValuePair<string, string>>();
    var directory = DtlsTenantDirectory.Build([tenant], errors);
    foreach (var error in errors)
    {
        Console.WriteLine($"tenant {error.Key}: {error.Value}");
    }

    await using var server = new DtlsServer(new DtlsServerOptions { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(args[1], CultureInfo.InvariantCulture)) }, directory, new EchoHandler());
    server.Start();
    Console.WriteLine($"listening on {server.LocalEndPoint}");
    while (true)
    {
        await Task.Delay(2000);
        var c = server.Counters;
        Console.WriteLine($"in={c.DatagramsIn} out={c.DatagramsOut} hvr={c.HelloVerifyRequestsSent} started={c.HandshakesStarted} ok={c.HandshakesCompleted} failed={c.HandshakesFailed} closed={c.SessionsClosed} malformed={c.MalformedDropped} unknown={c.UnknownSessionDropped} internal={c.InternalErrors} sessions={server.SessionCount}");
    }
}

return await Platform.Gateway.Dtls.Bench.HandshakeBench.RunAsync(args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10);

internal sealed class EchoHandler : IDtlsSessionHandler
{
    public DtlsAdmission Admit(DtlsSession session) => DtlsAdmission.Accept;

    public void OnSessionOpened(DtlsSession session) =>
        Console.WriteLine($"opened {session.Id} {session.RemoteEndPoint} tenant={session.Tenant?.Slug} sni={session.ServerName} psk={session.PskIdentity} cipher={session.CipherSuite}");

    public void OnDatagram(DtlsSession session, ReadOnlySpan<byte> datagram) => session.Send(datagram);

    public void OnSessionClosed(DtlsSession session, DtlsCloseReason reason) =>
        Console.WriteLine($"closed {session.Id} {reason} {session.FailureDetail}");
}
