using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Connections;

/// <summary>
/// Bounded queue of directory events (opens and closes) waiting for the next batch. When the silo is
/// away long enough for the queue to fill, further events are dropped and counted, with an error log
/// once per overflow episode; the directory then catches up from the next counter report.
/// </summary>
internal sealed partial class ConnectionEventSink
{
    private readonly Channel<object> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger<ConnectionEventSink> _logger;
    private long _dropped;
    private int _overflowing;

    public ConnectionEventSink(IOptions<GatewayOptions> options, TimeProvider time, ILogger<ConnectionEventSink> logger)
    {
        _queue = Channel.CreateBounded<object>(new BoundedChannelOptions(options.Value.EventQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _time = time;
        _logger = logger;
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    internal ChannelReader<object> Reader => _queue.Reader;

    public void Opened(GatewayConnection connection) => Enqueue(connection.OpenedEvent());

    public void Closed(GatewayConnection connection) =>
        Enqueue(new ConnectionClosed(connection.Counters(), _time.GetUtcNow(), connection.CloseCode, connection.CloseReason));

    private void Enqueue(object item)
    {
        if (_queue.Writer.TryWrite(item))
        {
            Volatile.Write(ref _overflowing, 0);
            return;
        }

        var dropped = Interlocked.Increment(ref _dropped);
        if (Interlocked.Exchange(ref _overflowing, 1) == 0)
        {
            Log.Overflow(_logger, dropped);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Connection event queue full (silo unreachable?); events are being dropped, {Dropped} so far")]
        public static partial void Overflow(ILogger logger, long dropped);
    }
}
