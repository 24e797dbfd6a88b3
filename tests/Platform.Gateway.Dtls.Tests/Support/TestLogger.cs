using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>Keeps warnings and errors so a failing assertion can show them.</summary>
internal sealed class TestLogger : ILogger<DtlsServer>
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue($"{logLevel}: {formatter(state, exception)} {exception}");

    public override string ToString() => string.Join('\n', Entries.TakeLast(20));
}
