using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// The one place a connection's client address is taken from a PROXY header: on a listener marked <c>required</c>, a
/// connection from outside the listener's trusted networks is closed at once; one from inside must send a whole, valid
/// header within <see cref="ProxyProtocolOptions.HeaderTimeoutSeconds"/>, and its client address then replaces the
/// connection's remote end point for everything after (access lists, rate limits, per-client caps, half-open caps, the
/// directory, delivery). Every outcome is counted (<see cref="ProxyProtocolMetrics"/>).
/// </summary>
internal sealed partial class ProxyProtocolGate
{
    private readonly ProxyProtocolOptions _options;
    private readonly Dictionary<ProxyListener, IReadOnlyList<IPNetwork>> _trusted;
    private readonly ProxyProtocolMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyProtocolGate> _logger;

    public ProxyProtocolGate(IOptions<GatewayOptions> options, ProxyProtocolMetrics metrics, TimeProvider time, ILogger<ProxyProtocolGate> logger)
    {
        _options = options.Value.ProxyProtocol ?? new ProxyProtocolOptions();
        _trusted = Enum.GetValues<ProxyListener>().ToDictionary(static l => l, l => _options.For(l).ParsedTrustedNetworks());
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public ProxyProtocolMetrics Metrics => _metrics;

    /// <summary>Whether <paramref name="listener"/> is behind a load balancer and takes only connections with a header.</summary>
    public bool IsRequired(ProxyListener listener) => _options.For(listener).IsRequired;

    /// <summary>
    /// Reads the header from a Kestrel connection's input, leaving every byte after it for the next layer. The client's
    /// end point (the peer's own for a LOCAL or UNKNOWN header), or null when the connection is to be closed.
    /// </summary>
    public async ValueTask<IPEndPoint?> AcceptAsync(PipeReader input, IPEndPoint? peer, ProxyListener listener, CancellationToken aborted)
    {
        if (!IsTrusted(peer, listener))
        {
            return null;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_options.HeaderTimeoutSeconds), _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, aborted);
        var copy = new byte[ProxyHeaderParser.MaxLength];
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(linked.Token);
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                return Refuse(peer!, listener, aborted.IsCancellationRequested ? ProxyProtocolMetrics.Truncated : ProxyProtocolMetrics.Timeout);
            }

            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, copy.Length);
            buffer.Slice(0, length).CopyTo(copy);
            var status = ProxyHeaderParser.TryParse(copy.AsSpan(0, length), out var header);
            if (status == ProxyHeaderStatus.Complete)
            {
                input.AdvanceTo(buffer.GetPosition(header!.Length));
                return Accept(peer!, listener, header);
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (status != ProxyHeaderStatus.Incomplete)
            {
                return Refuse(peer!, listener, ReasonOf(status));
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return Refuse(peer!, listener, ProxyProtocolMetrics.Truncated);
            }
        }
    }

    /// <summary>
    /// As the pipe overload, straight from an accepted socket (the dedicated ports). Bytes that arrived after the header
    /// in the same reads are returned, to be read before the socket's.
    /// </summary>
    public async ValueTask<(IPEndPoint Client, byte[] Early)?> AcceptAsync(Socket socket, IPEndPoint peer, ProxyListener listener, CancellationToken aborted)
    {
        if (!IsTrusted(peer, listener))
        {
            return null;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_options.HeaderTimeoutSeconds), _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, aborted);
        var buffer = new byte[ProxyHeaderParser.MaxLength];
        var filled = 0;
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, linked.Token);
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                Refuse(peer, listener, aborted.IsCancellationRequested ? ProxyProtocolMetrics.Truncated : ProxyProtocolMetrics.Timeout);
                return null;
            }
            catch (SocketException)
            {
                Refuse(peer, listener, ProxyProtocolMetrics.Truncated);
                return null;
            }

            if (read == 0)
            {
                Refuse(peer, listener, ProxyProtocolMetrics.Truncated);
                return null;
            }

            filled += read;
            var status = ProxyHeaderParser.TryParse(buffer.AsSpan(0, filled), out var header);
            if (status == ProxyHeaderStatus.Complete)
            {
                return (Accept(peer, listener, header!), buffer[header!.Length..filled]);
            }

            if (status != ProxyHeaderStatus.Incomplete)
            {
                Refuse(peer, listener, ReasonOf(status));
                return null;
            }
        }
    }

    private bool IsTrusted(IPEndPoint? peer, ProxyListener listener)
    {
        if (peer is not null)
        {
            var address = ProxyListenerOptions.Normalize(peer.Address);
            foreach (var network in _trusted[listener])
            {
                if (network.Contains(address))
                {
                    return true;
                }
            }
        }

        Refuse(peer, listener, ProxyProtocolMetrics.UntrustedSource);
        return false;
    }

    private IPEndPoint Accept(IPEndPoint peer, ProxyListener listener, ProxyHeader header)
    {
        _metrics.Accepted(listener, header.Version);
        if (header.Source is null)
        {
            return peer;
        }

        // An IPv4 client written as IPv4-mapped IPv6 is the IPv4 client access lists and per-client caps know.
        var client = new IPEndPoint(ProxyListenerOptions.Normalize(header.Source.Address), header.Source.Port);
        Log.Accepted(_logger, listener, peer, client);
        return client;
    }

    private IPEndPoint? Refuse(IPEndPoint? peer, ProxyListener listener, string reason)
    {
        _metrics.Refused(listener, reason);
        Log.Refused(_logger, listener, peer, reason);
        return null;
    }

    private static string ReasonOf(ProxyHeaderStatus status) => status switch
    {
        ProxyHeaderStatus.Oversized => ProxyProtocolMetrics.Oversized,
        ProxyHeaderStatus.Unsupported => ProxyProtocolMetrics.Unsupported,
        _ => ProxyProtocolMetrics.Malformed,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 6401, Level = LogLevel.Debug, Message = "PROXY header on the {Listener} listener from {Peer}: client {Client}")]
        public static partial void Accepted(ILogger logger, ProxyListener listener, IPEndPoint peer, IPEndPoint client);

        [LoggerMessage(EventId = 6402, Level = LogLevel.Debug, Message = "Connection on the {Listener} listener from {Peer} closed: PROXY header {Reason}")]
        public static partial void Refused(ILogger logger, ProxyListener listener, IPEndPoint? peer, string reason);
    }
}
