using System.Net;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// A client process that establishes <c>count</c> ECDHE-PSK sessions (one UDP socket each), prints
/// <c>ready &lt;established&gt; &lt;failed&gt; &lt;retried&gt;</c>, holds them idle until its standard input ends, then sends
/// close_notify on each. Several of these split the sockets when one process may not open enough files.
/// </summary>
internal static class HoldSessions
{
    /// <summary>
    /// A refused handshake (MaxConnections slots not yet leased from the silo, half-open limits) is tried again after
    /// a pause; refusals are counted and reported.
    /// </summary>
    private const int Attempts = 40;

    public static async Task<int> RunAsync(IPEndPoint server, PskCredentials psk, int count, int concurrency, int sourceGroup)
    {
        using var context = BenchDtlsClient.CreateContext("ECDHE-PSK-AES128-CBC-SHA256");
        var clients = new BenchDtlsClient?[count];
        var next = -1;
        var failed = 0;
        var retried = 0;
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                for (var attempt = 0; attempt < Attempts && clients[index] is null; attempt++)
                {
                    var client = new BenchDtlsClient(server, GatewayBench.Source(sourceGroup, w), context, null, psk);
                    try
                    {
                        await client.HandshakeAsync(TimeSpan.FromSeconds(10));
                        clients[index] = client;
                    }
                    catch (Exception ex) when (ex is IOException or TimeoutException)
                    {
                        client.Dispose();
                        if (attempt == Attempts - 1)
                        {
                            Interlocked.Increment(ref failed);
                            await Console.Error.WriteLineAsync($"hold: session {index} failed: {ex.Message}");
                        }
                        else
                        {
                            Interlocked.Increment(ref retried);
                            await Task.Delay(TimeSpan.FromMilliseconds(250));
                        }
                    }
                }
            }
        })).ToList();
        await Task.WhenAll(workers);
        Console.WriteLine($"ready {clients.Count(c => c is not null)} {failed} {retried}");
        await Console.Out.FlushAsync();

        // Hold until the parent closes our standard input.
        while (await Console.In.ReadLineAsync() is not null)
        {
        }

        foreach (var client in clients)
        {
            client?.Close();
            client?.Dispose();
        }

        return 0;
    }
}
