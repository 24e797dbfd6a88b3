using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// A native heap profile of OpenSSL alone: CRYPTO_set_mem_functions routes every OpenSSL allocation of this process
/// through counting functions that remember, per allocation site (OpenSSL's source file and line), the bytes and
/// blocks live now. It must be installed before OpenSSL allocates anything (before any crypto in the process, the
/// runtime's included), so only in a process of its own (<c>retained-one COUNT HANDLING profile</c>).
/// </summary>
internal static unsafe partial class OpenSslAllocations
{
    private const int Header = 16;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<(nint File, int Line), int> SiteIndex = [];
    private static readonly List<(nint File, int Line)> Sites = [];
    private static readonly List<long> LiveBytes = [];
    private static readonly List<long> LiveBlocks = [];

    /// <summary>True when the functions are in place (false: OpenSSL had allocated already).</summary>
    public static bool Install() => CRYPTO_set_mem_functions(&Malloc, &Realloc, &Free) == 1;

    /// <summary>Live bytes and blocks per site now.</summary>
    public static Dictionary<string, (long Bytes, long Blocks)> Snapshot()
    {
        lock (Gate)
        {
            var result = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
            for (var i = 0; i < Sites.Count; i++)
            {
                var (file, line) = Sites[i];
                var name = (file == nint.Zero ? "?" : Marshal.PtrToStringUTF8(file) ?? "?") + ":" + line;
                result[name] = result.TryGetValue(name, out var seen) ? (seen.Item1 + LiveBytes[i], seen.Item2 + LiveBlocks[i]) : (LiveBytes[i], LiveBlocks[i]);
            }

            return result;
        }
    }

    /// <summary>
    /// The sites whose live bytes grew most between <paramref name="before"/> and <paramref name="after"/>, per held
    /// session, to standard error; the total per session is returned.
    /// </summary>
    public static double Report(Dictionary<string, (long Bytes, long Blocks)> before, Dictionary<string, (long Bytes, long Blocks)> after, int sessions, TextWriter writer)
    {
        var growth = after.Select(a =>
        {
            var b = before.GetValueOrDefault(a.Key);
            return (Site: a.Key, Bytes: (a.Value.Bytes - b.Bytes) / (double)sessions, Blocks: (a.Value.Blocks - b.Blocks) / (double)sessions);
        }).Where(g => g.Bytes > 1).OrderByDescending(g => g.Bytes).ToList();
        var total = growth.Sum(g => g.Bytes);
        writer.WriteLine($"OpenSSL heap allocated per held session: {total / 1024:F2} KiB in {growth.Sum(g => g.Blocks):F1} blocks");
        writer.WriteLine("| allocation site (OpenSSL source) | bytes per session | blocks per session |");
        writer.WriteLine("|---|---|---|");
        foreach (var g in growth.Take(20))
        {
            writer.WriteLine($"| {g.Site} | {g.Bytes:F0} | {g.Blocks:F2} |");
        }

        return total;
    }

    private static int SiteOf(byte* file, int line)
    {
        var key = ((nint)file, line);
        if (!SiteIndex.TryGetValue(key, out var index))
        {
            index = Sites.Count;
            SiteIndex[key] = index;
            Sites.Add(key);
            LiveBytes.Add(0);
            LiveBlocks.Add(0);
        }

        return index;
    }

    private static byte* Track(byte* block, nuint size, byte* file, int line)
    {
        if (block == null)
        {
            return null;
        }

        lock (Gate)
        {
            var site = SiteOf(file, line);
            *(long*)block = (long)size;
            *(int*)(block + 8) = site;
            LiveBytes[site] += (long)size;
            LiveBlocks[site]++;
        }

        return block + Header;
    }

    private static byte* Untrack(byte* user)
    {
        var block = user - Header;
        lock (Gate)
        {
            var site = *(int*)(block + 8);
            LiveBytes[site] -= *(long*)block;
            LiveBlocks[site]--;
        }

        return block;
    }

    [UnmanagedCallersOnly]
    private static void* Malloc(nuint size, byte* file, int line) => Track((byte*)NativeMemory.Alloc(size + Header), size, file, line);

    [UnmanagedCallersOnly]
    private static void* Realloc(void* address, nuint size, byte* file, int line)
    {
        if (address == null)
        {
            return Track((byte*)NativeMemory.Alloc(size + Header), size, file, line);
        }

        var block = Untrack((byte*)address);
        var moved = (byte*)NativeMemory.Realloc(block, size + Header);
        if (moved == null)
        {
            // The old block is still valid and still OpenSSL's: count it again where it was.
            Track(block, *(nuint*)block, file, line);
            return null;
        }

        return Track(moved, size, file, line);
    }

    [UnmanagedCallersOnly]
    private static void Free(void* address, byte* file, int line)
    {
        if (address != null)
        {
            NativeMemory.Free(Untrack((byte*)address));
        }
    }

    [LibraryImport("libcrypto.so.3")]
    private static partial int CRYPTO_set_mem_functions(
        delegate* unmanaged<nuint, byte*, int, void*> malloc,
        delegate* unmanaged<void*, nuint, byte*, int, void*> realloc,
        delegate* unmanaged<void*, byte*, int, void> free);
}
