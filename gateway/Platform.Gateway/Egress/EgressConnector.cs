using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Egress;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Egress;

/// <summary>
/// The one way the gateway opens a connection a tenant chose (forward backends over TCP, TLS or UDP; webhook requests
/// can plug in through <c>SocketsHttpHandler.ConnectCallback</c>). The host is canonicalised (<see cref="EgressHost"/>):
/// a numeric form is used as the address it spells, a localhost name as the loopback addresses, and only a real name is
/// resolved, once, through <see cref="IEgressResolver"/>. Every address is checked against the operator's
/// <see cref="EgressPolicy"/> and this gateway's own endpoints, and the socket connects to an <see cref="IPEndPoint"/> that
/// passed, never to the name again, so an answer that changes between check and connect (DNS rebinding) changes nothing.
/// When nothing passes the caller gets a <see cref="BackendUnreachableException"/> with
/// <see cref="RefusalReason.BackendForbidden"/>, which it answers exactly like an unreachable backend.
/// </summary>
internal sealed partial class EgressConnector(
    EgressPolicy policy,
    IEgressResolver resolver,
    OwnEndpoints own,
    TimeProvider time,
    ILogger<EgressConnector> logger)
{
    /// <summary>At most one warning per tenant in this period, however often its clients hit a forbidden target.</summary>
    public static readonly TimeSpan WarningInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, long> _lastWarning = new(StringComparer.Ordinal);

    /// <summary>
    /// Connects a socket of <paramref name="type"/> (stream: TCP, trying each allowed address in order; datagram: UDP, to
    /// the first allowed address) to <paramref name="host"/>:<paramref name="port"/> for <paramref name="tenant"/>.
    /// </summary>
    public async Task<Socket> ConnectAsync(string tenant, string host, int port, SocketType type, CancellationToken cancellationToken)
    {
        var endPoints = await ResolveAsync(tenant, host, port, cancellationToken);
        SocketException? last = null;
        foreach (var endPoint in endPoints)
        {
            var socket = new Socket(endPoint.AddressFamily, type, type == SocketType.Dgram ? ProtocolType.Udp : ProtocolType.Tcp);
            try
            {
                if (type == SocketType.Stream)
                {
                    socket.NoDelay = true;
                }

                await socket.ConnectAsync(endPoint, cancellationToken);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new BackendUnreachableException(Target(host, port), last?.SocketErrorCode.ToString() ?? "no address", last);
    }

    /// <summary>
    /// The endpoints of <paramref name="host"/> that the policy allows, in the resolver's order. Throws
    /// <see cref="BackendUnreachableException"/>: forbidden when addresses exist but none passes (or the host is not a
    /// valid host), unreachable when the name does not resolve.
    /// </summary>
    public async Task<IReadOnlyList<IPEndPoint>> ResolveAsync(string tenant, string host, int port, CancellationToken cancellationToken)
    {
        var parsed = EgressHost.Parse(host);
        IPAddress[] addresses;
        switch (parsed.Kind)
        {
            case EgressHostKind.Invalid:
                throw Forbid(tenant, host, port, null, "invalid host");
            case EgressHostKind.Name:
                try
                {
                    addresses = await resolver.ResolveAsync(parsed.Name!, cancellationToken);
                }
                catch (SocketException ex)
                {
                    throw new BackendUnreachableException(Target(host, port), ex.SocketErrorCode.ToString(), ex);
                }

                break;
            default:
                addresses = [.. parsed.LiteralAddresses];
                break;
        }

        if (addresses.Length == 0)
        {
            throw new BackendUnreachableException(Target(host, port), "no address");
        }

        var allowed = new List<IPEndPoint>(addresses.Length);
        (IPAddress Address, string Class)? refused = null;
        foreach (var candidate in addresses)
        {
            // An IPv4-mapped answer is dialled as the IPv4 address it is; a zone id stays for link-local targets.
            var address = candidate.IsIPv4MappedToIPv6 ? candidate.MapToIPv4() : candidate;
            var verdict = Check(address, port);
            if (verdict is null)
            {
                var endPoint = new IPEndPoint(address, port);
                if (!allowed.Contains(endPoint))
                {
                    allowed.Add(endPoint);
                }
            }
            else
            {
                refused ??= (address, verdict);
            }
        }

        return allowed.Count > 0 ? allowed : throw Forbid(tenant, host, port, refused!.Value.Address, refused.Value.Class);
    }

    /// <summary>Null when a tenant may reach <paramref name="address"/>:<paramref name="port"/>; otherwise the class that refuses it.</summary>
    public string? Check(IPAddress address, int port)
    {
        var verdict = policy.Evaluate(address);
        if (!verdict.Allowed)
        {
            return verdict.Class.ToString();
        }

        if (own.IsLocal(address))
        {
            // Whatever the operator allows, the gateway never forwards into its own listeners.
            if (own.IsListenerPort(port))
            {
                return "OwnListener";
            }

            // A public address of the gateway's own interfaces reaches local services: only an explicit allowed range opens it.
            if (!policy.IsInAllowedRanges(address))
            {
                return "OwnAddress";
            }
        }

        return null;
    }

    private BackendUnreachableException Forbid(string tenant, string host, int port, IPAddress? address, string addressClass)
    {
        var now = time.GetTimestamp();
        var last = _lastWarning.GetOrAdd(tenant, 0);
        if ((last == 0 || time.GetElapsedTime(last, now) >= WarningInterval) && _lastWarning.TryUpdate(tenant, now, last))
        {
            Log.Forbidden(logger, tenant, host, port, address?.ToString() ?? "-", addressClass);
        }

        return new BackendUnreachableException(Target(host, port), "forbidden by the egress policy", refusal: RefusalReason.BackendForbidden);
    }

    private static string Target(string host, int port) => $"{host}:{port}";

    private static partial class Log
    {
        [LoggerMessage(EventId = 8401, Level = LogLevel.Warning,
            Message = "Tenant {Tenant}: backend {Host}:{Port} refused by the egress policy ({Address}, {AddressClass}); further refusals of this tenant are not logged for a minute")]
        public static partial void Forbidden(ILogger logger, string tenant, string host, int port, string address, string addressClass);
    }
}
