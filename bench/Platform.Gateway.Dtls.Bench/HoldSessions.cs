using System.Net;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// A client process that establishes <c>count</c> ECDHE-PSK sessions (one UDP socket each, offering one suite,
/// ECDHE-PSK-CHACHA20-POLY1305 unless told otherwise), prints
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

    public static async Task<int> RunAsync(IPEndPoint server, PskCredentials psk, string suite, int count, int concurrency, int sourceGroup)
    {
        using var context = BenchDtlsClient.CreateContext(suite);
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
        await HoldAsync(clients.Count(c => c is not null), failed, retried);
        foreach (var client in clients)
        {
            client?.Close();
            client?.Dispose();
        }

        return 0;
    }

    /// <summary>
    /// The same with BouncyCastle clients offering <paramref name="features"/> (so the gateway's BouncyCastle engine
    /// serves them); their handshakes block, so each worker is a thread of its own. A client that was not given a
    /// connection ID although it asked for one counts as failed: that session was not served by BouncyCastle.
    /// </summary>
    public static async Task<int> RunBcAsync(IPEndPoint server, PskCredentials psk, string serverName, BenchBcFeatures features, int count, int concurrency, int sourceGroup)
    {
        var crypto = new Org.BouncyCastle.Tls.Crypto.Impl.BC.BcTlsCrypto(new Org.BouncyCastle.Security.SecureRandom());
        var clients = new BenchBcClient?[count];
        var next = -1;
        var failed = 0;
        var retried = 0;
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Factory.StartNew(() =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                for (var attempt = 0; attempt < Attempts && clients[index] is null; attempt++)
                {
                    try
                    {
                        var client = BenchBcClient.Connect(server, GatewayBench.Source(sourceGroup, w), serverName, psk, features, crypto, TimeSpan.FromSeconds(10));
                        if (features.HasFlag(BenchBcFeatures.ConnectionId) && !client.HasConnectionId)
                        {
                            client.Close();
                            client.Dispose();
                            Interlocked.Increment(ref failed);
                            Console.Error.WriteLine($"hold: session {index} has no connection ID: not served by BouncyCastle");
                            break;
                        }

                        clients[index] = client;
                    }
                    catch (IOException ex)
                    {
                        if (attempt == Attempts - 1)
                        {
                            Interlocked.Increment(ref failed);
                            Console.Error.WriteLine($"hold: session {index} failed: {ex.Message}");
                        }
                        else
                        {
                            Interlocked.Increment(ref retried);
                            Thread.Sleep(TimeSpan.FromMilliseconds(250));
                        }
                    }
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToList();
        await Task.WhenAll(workers);
        await HoldAsync(clients.Count(c => c is not null), failed, retried);
        foreach (var client in clients)
        {
            client?.Close();
            client?.Dispose();
        }

        return 0;
    }

    /// <summary>Reports <c>ready</c> and waits until the parent closes standard input.</summary>
    private static async Task HoldAsync(int established, int failed, int retried)
    {
        Console.WriteLine($"ready {established} {failed} {retried}");
        await Console.Out.FlushAsync();

        // Hold until the parent closes our standard input.
        while (await Console.In.ReadLineAsync() is not null)
        {
        }
    }
}
