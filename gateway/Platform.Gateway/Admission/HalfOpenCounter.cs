using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Admission;

/// <summary>
/// TLS handshakes in progress (half open), counted in memory without locks against two sets of caps. Before a
/// ClientHello names a tenant, the gateway's own: <see cref="GatewayOptions.MaxPendingTlsHandshakes"/> in total and
/// <see cref="GatewayOptions.MaxPendingTlsHandshakesPerClient"/> per client prefix. Once the tenant is known, the
/// tenant's: <c>limits.maxHalfOpenHandshakes</c> in total and <c>limits.maxHalfOpenHandshakesPerClient</c> per client
/// prefix. A client prefix is an IPv4 address (/32) or an IPv6 /64, the block one subscriber is usually given, so that
/// stepping through the addresses of one's own /64 does not multiply a cap.
/// </summary>
internal sealed class HalfOpenCounter(IOptions<GatewayOptions> options)
{
    private readonly int _maxPending = options.Value.MaxPendingTlsHandshakes;
    private readonly int _maxPendingPerClient = options.Value.MaxPendingTlsHandshakesPerClient;
    private readonly ConcurrentDictionary<UInt128, int> _pendingByClient = new();
    private readonly ConcurrentDictionary<Guid, int> _byTenant = new();
    private readonly ConcurrentDictionary<(Guid Tenant, UInt128 Client), int> _byTenantClient = new();
    private int _pending;

    /// <summary>Handshakes whose tenant is not known yet.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Handshakes counted for a tenant now.</summary>
    public int ForTenant(Guid tenantId) => _byTenant.GetValueOrDefault(tenantId);

    /// <summary>Counts a handshake whose tenant is not known yet; null when a gateway-wide cap is reached.</summary>
    public HalfOpenSlot? TryEnterPending(IPAddress client)
    {
        var prefix = PrefixOf(client);
        if (!TryIncrement(ref _pending, _maxPending))
        {
            return null;
        }

        if (!TryIncrement(_pendingByClient, prefix, _maxPendingPerClient))
        {
            Interlocked.Decrement(ref _pending);
            return null;
        }

        return new HalfOpenSlot(this, null, prefix);
    }

    /// <summary>Counts a handshake of a known tenant; null when one of the tenant's caps is reached.</summary>
    public HalfOpenSlot? TryEnterTenant(TenantRuntime tenant, IPAddress client)
    {
        var prefix = PrefixOf(client);
        var limits = tenant.Config.Limits;
        if (!TryIncrement(_byTenant, tenant.Id, limits.MaxHalfOpenHandshakes))
        {
            return null;
        }

        if (!TryIncrement(_byTenantClient, (tenant.Id, prefix), limits.MaxHalfOpenHandshakesPerClient))
        {
            Decrement(_byTenant, tenant.Id);
            return null;
        }

        return new HalfOpenSlot(this, tenant.Id, prefix);
    }

    /// <summary>Called once per slot, by <see cref="HalfOpenSlot.Dispose"/>.</summary>
    internal void Exit(Guid? tenant, UInt128 prefix)
    {
        if (tenant is { } id)
        {
            Decrement(_byTenantClient, (id, prefix));
            Decrement(_byTenant, id);
        }
        else
        {
            Decrement(_pendingByClient, prefix);
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>The client prefix an address counts under: IPv4 (or IPv4-mapped) whole, IPv6 its first 64 bits.</summary>
    public static UInt128 PrefixOf(IPAddress address)
    {
        // IPv4 as ::ffff:a.b.c.d, whose low 64 bits are never zero, so no IPv6 /64 (low bits cleared) can equal it.
        var v6 = address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address;
        Span<byte> bytes = stackalloc byte[16];
        v6.TryWriteBytes(bytes, out _);
        var value = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return v6.IsIPv4MappedToIPv6 ? value : value >> 64 << 64;
    }

    private static bool TryIncrement(ref int count, int limit)
    {
        var current = Volatile.Read(ref count);
        while (current < limit)
        {
            var seen = Interlocked.CompareExchange(ref count, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    // Entries exist only while their count is above zero, so the dictionaries hold what is in progress and no more.
    private static bool TryIncrement<TKey>(ConcurrentDictionary<TKey, int> counts, TKey key, int limit)
        where TKey : notnull
    {
        while (true)
        {
            if (counts.TryGetValue(key, out var count))
            {
                if (count >= limit)
                {
                    return false;
                }

                if (counts.TryUpdate(key, count + 1, count))
                {
                    return true;
                }
            }
            else if (limit < 1)
            {
                return false;
            }
            else if (counts.TryAdd(key, 1))
            {
                return true;
            }
        }
    }

    private static void Decrement<TKey>(ConcurrentDictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        while (counts.TryGetValue(key, out var count))
        {
            var done = count <= 1
                ? counts.TryRemove(new KeyValuePair<TKey, int>(key, count))
                : counts.TryUpdate(key, count - 1, count);
            if (done)
            {
                return;
            }
        }
    }
}
