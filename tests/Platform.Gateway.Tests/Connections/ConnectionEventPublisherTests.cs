using System.Net;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Internal;
using Platform.Gateway.Connections;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Connections;

/// <summary>
/// What a batch of directory events carries: counters only of connections whose open event went out and whose
/// counters changed since they were last reported, so idle connections cost the periodic report nothing.
/// </summary>
public sealed class ConnectionEventPublisherTests : IDisposable
{
    private readonly AdmissionRig _rig = new(batch: 2);
    private readonly ConnectionRegistry _registry;
    private readonly ConnectionEventPublisher _publisher;

    public ConnectionEventPublisherTests()
    {
        // One open or close event per batch, so a connection whose open event is still queued can be seen.
        _publisher = Publisher(new GatewayOptions { EventBatchSize = 1 }, new UnusedClient(), out _registry);
    }

    [Fact]
    public void Collect_IdleConnection_ReportedOnceThenNotUntilItsCountersChange()
    {
        var connection = Open("gw-a.1");

        var first = _publisher.Collect(includeCounters: true);
        Assert.Equal("gw-a.1", Assert.Single(first.Opened).Id);
        Assert.Equal("gw-a.1", Assert.Single(first.Counters).Id);

        // Nothing changed: no counters, however many reports pass (the fake clock does not move either).
        Assert.Empty(_publisher.Collect(includeCounters: true).Counters);
        Assert.Empty(_publisher.Collect(includeCounters: true).Counters);

        connection.CountIn(5, 1);
        var changed = Assert.Single(_publisher.Collect(includeCounters: true).Counters);
        Assert.Equal(("gw-a.1", 5L, 1L), (changed.Id, changed.BytesIn, changed.MessagesIn));
        Assert.Empty(_publisher.Collect(includeCounters: true).Counters);

        connection.CountOut(7, 1);
        var sent = Assert.Single(_publisher.Collect(includeCounters: true).Counters);
        Assert.Equal((5L, 7L, 1L), (sent.BytesIn, sent.BytesOut, sent.MessagesOut));
    }

    [Fact]
    public void Collect_ChangeBetweenReportsWithoutCounters_CarriedByTheNextReport()
    {
        var connection = Open("gw-a.1");
        _publisher.Collect(includeCounters: true);

        connection.CountIn(3, 1);
        Assert.Empty(_publisher.Collect(includeCounters: false).Counters);

        Assert.Equal(3L, Assert.Single(_publisher.Collect(includeCounters: true).Counters).BytesIn);
    }

    [Fact]
    public void Collect_OpenEventStillQueued_NoCountersUntilItWentOut()
    {
        Open("gw-a.1");
        var second = Open("gw-a.2");
        second.CountIn(9, 1);

        // The batch takes one event: gw-a.2's open event waits, so its counters would name a row the directory has not got.
        var first = _publisher.Collect(includeCounters: true);
        Assert.Equal("gw-a.1", Assert.Single(first.Opened).Id);
        Assert.Equal("gw-a.1", Assert.Single(first.Counters).Id);

        var next = _publisher.Collect(includeCounters: true);
        Assert.Equal("gw-a.2", Assert.Single(next.Opened).Id);
        var counters = Assert.Single(next.Counters);
        Assert.Equal(("gw-a.2", 9L), (counters.Id, counters.BytesIn));
    }

    [Fact]
    public void Collect_ClientMovedWithoutTraffic_ReportedWithTheNewAddress()
    {
        var connection = Open("gw-a.1");
        _publisher.Collect(includeCounters: true);

        connection.MoveRemote(new IPEndPoint(IPAddress.Loopback, 40001));

        var moved = Assert.Single(_publisher.Collect(includeCounters: true).Counters);
        Assert.Equal(("127.0.0.1", 40001), (moved.RemoteAddress, moved.RemotePort));
        Assert.Empty(_publisher.Collect(includeCounters: true).Counters);
    }

    [Fact]
    public void Collect_AfterTheSiloForgotTheNode_ReannouncedConnectionsReportedInFull()
    {
        var connection = Open("gw-a.1");
        connection.CountIn(4, 1);
        _publisher.Collect(includeCounters: true);
        Assert.Empty(_publisher.Collect(includeCounters: true).Counters);

        // The silo forgot this node: the open events go again, and the counters with them, unchanged as they are.
        _registry.AnnounceAll();
        var again = _publisher.Collect(includeCounters: true);
        Assert.Equal("gw-a.1", Assert.Single(again.Opened).Id);
        Assert.Equal(4L, Assert.Single(again.Counters).BytesIn);
    }

    [Fact]
    public void Collect_ClosedConnection_OnlyItsCloseEventWithFinalCounters()
    {
        var connection = Open("gw-a.1");
        _publisher.Collect(includeCounters: true);
        connection.CountIn(6, 2);

        _registry.Remove(connection);

        var batch = _publisher.Collect(includeCounters: true);
        Assert.Empty(batch.Counters);
        Assert.Equal(6L, Assert.Single(batch.Closed).Counters.BytesIn);
    }

    [Fact]
    public async Task Run_IdleFlushIntervalsPass_NothingThrown_ThenAnEventIsPosted()
    {
        var client = new RecordingClient();
        using var publisher = Publisher(new GatewayOptions { EventFlushMilliseconds = 10, EventLingerMilliseconds = 0 }, client, out var registry);

        // Exceptions thrown in this test's flow only (the publisher's loop inherits it): other tests run gateways too.
        var thrown = new List<Exception>();
        void Count(object? sender, FirstChanceExceptionEventArgs e)
        {
            if (InThisTest.Value)
            {
                lock (thrown)
                {
                    thrown.Add(e.Exception);
                }
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            InThisTest.Value = true;
            await publisher.StartAsync(CancellationToken.None);

            // A hundred idle flush intervals on the publisher's clock, spread over real time for the loop to run.
            for (var i = 0; i < 100; i++)
            {
                _rig.Time.Advance(TimeSpan.FromMilliseconds(10));
                await Task.Delay(2);
            }

            lock (thrown)
            {
                Assert.True(thrown.Count == 0, string.Join("\n", thrown.Select(ex => ex.GetType().Name + ": " + ex.Message)));
            }

            registry.Add(new ScriptedConnection("gw-a.9", TestTenants.Tenant(), _rig.Time));
            var batch = await client.Posted.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("gw-a.9", Assert.Single(batch.Opened).Id);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
            InThisTest.Value = false;
            await publisher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Run_EventsWithinTheLinger_GoInOneBatch()
    {
        var client = new RecordingClient();
        using var publisher = Publisher(new GatewayOptions { EventFlushMilliseconds = 1000, EventLingerMilliseconds = 50 }, client, out var registry);
        await publisher.StartAsync(CancellationToken.None);
        try
        {
            // The first event starts the linger on the publisher's clock, which stands still: nothing goes yet, however
            // long the real wait.
            registry.Add(new ScriptedConnection("gw-a.1", TestTenants.Tenant(), _rig.Time));
            await Task.Delay(200);
            Assert.False(client.Posted.Task.IsCompleted);

            registry.Add(new ScriptedConnection("gw-a.2", TestTenants.Tenant(), _rig.Time));
            registry.Add(new ScriptedConnection("gw-a.3", TestTenants.Tenant(), _rig.Time));
            _rig.Time.Advance(TimeSpan.FromMilliseconds(50));

            var batch = await client.Posted.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(["gw-a.1", "gw-a.2", "gw-a.3"], batch.Opened.Select(o => o.Id));
        }
        finally
        {
            await publisher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Run_SiloCannotReadTheBatch_PublisherKeepsRunningAndPostsTheSameBatchAgain()
    {
        // What a silo of a build with another wire form answers (seen in a rolling upgrade): the call fails with
        // Orleans' serialization error, which SiloClient hands on as the silo's answer.
        var client = new FailingOnceClient(new Orleans.Serialization.UnsupportedWireTypeException("A WireType value of TagDelimited is expected by this codec."));
        using var publisher = Publisher(new GatewayOptions { EventFlushMilliseconds = 10, EventLingerMilliseconds = 0 }, client, out var registry);
        await publisher.StartAsync(CancellationToken.None);
        var loop = publisher.ExecuteTask!;
        try
        {
            registry.Add(new ScriptedConnection("gw-a.1", TestTenants.Tenant(), _rig.Time));
            await client.Failed.Task.WaitAsync(TimeSpan.FromSeconds(10));

            // The loop waits out its back-off on the publisher's clock, then sends the batch it could not send.
            while (!client.Posted.Task.IsCompleted)
            {
                Assert.False(loop.IsCompleted, loop.Exception?.ToString());
                _rig.Time.Advance(TimeSpan.FromMilliseconds(250));
                await Task.WhenAny(client.Posted.Task, Task.Delay(10));
            }

            Assert.Equal("gw-a.1", Assert.Single((await client.Posted.Task).Opened).Id);
            Assert.False(loop.IsCompleted);
        }
        finally
        {
            await publisher.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>A publisher on the rig's clock posting through <paramref name="client"/>, with the registry that feeds it.</summary>
    private ConnectionEventPublisher Publisher(GatewayOptions settings, IConnectionEventClient client, out ConnectionRegistry registry)
    {
        var options = Options.Create(settings);
        var events = new ConnectionEventSink(options, _rig.Time, NullLogger<ConnectionEventSink>.Instance);
        registry = new ConnectionRegistry(events, _rig.Metrics, _rig.Store, _rig.Drain, NullLogger<ConnectionRegistry>.Instance);
        return new ConnectionEventPublisher(events, registry, client, options, _rig.Time, NullLogger<ConnectionEventPublisher>.Instance);
    }

    private static readonly AsyncLocal<bool> InThisTest = new();

    private ScriptedConnection Open(string id)
    {
        var connection = new ScriptedConnection(id, TestTenants.Tenant(), _rig.Time);
        _registry.Add(connection);
        return connection;
    }

    public void Dispose()
    {
        _publisher.Dispose();
        _rig.Dispose();
    }

    private sealed class RecordingClient : IConnectionEventClient
    {
        public TaskCompletionSource<ConnectionEventBatch> Posted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken)
        {
            Posted.TrySetResult(batch);
            return Task.CompletedTask;
        }
    }

    /// <summary>Fails the first post with <paramref name="failure"/> as <see cref="Platform.Gateway.Silo.SiloClient"/> reports it, then records.</summary>
    private sealed class FailingOnceClient(Exception failure) : IConnectionEventClient
    {
        private int _calls;

        public TaskCompletionSource Failed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<ConnectionEventBatch> Posted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                Failed.TrySetResult();
                await Platform.Gateway.Silo.SiloClient.AskAsync("PostConnectionEventsAsync", Task.FromException(failure));
            }

            Posted.TrySetResult(batch);
        }
    }

    /// <summary>The batches are taken with <see cref="ConnectionEventPublisher.Collect"/>; nothing is posted in these tests.</summary>
    private sealed class UnusedClient : IConnectionEventClient
    {
        public Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("these tests post nothing");
    }
}
