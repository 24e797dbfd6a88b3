using Npgsql;
using Platform.Silo.Data;

namespace Platform.Silo.Internal;

/// <summary>
/// The process's single LISTEN connection on <see cref="ConfigRevisions.Channel"/>. Every notification
/// fires <see cref="ConfigChangeSignal"/>; after a reconnect it fires once more, because notifications
/// sent while the connection was down are lost.
/// </summary>
internal sealed partial class ConfigChangeListener(
    NpgsqlDataSource dataSource,
    ConfigChangeSignal signal,
    PlatformClock time,
    ILogger<ConfigChangeListener> logger) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                signal.SetListening(false);
                LogListenFailed(logger, e);
            }

            try
            {
                await Task.Delay(RetryDelay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        connection.Notification += (_, _) => signal.Fire();
        await using (var command = new NpgsqlCommand($"LISTEN {ConfigRevisions.Channel}", connection))
        {
            await command.ExecuteNonQueryAsync(stoppingToken);
        }

        signal.SetListening(true);
        signal.Fire();
        LogListening(logger, ConfigRevisions.Channel);
        try
        {
            while (true)
            {
                await connection.WaitAsync(stoppingToken);
            }
        }
        finally
        {
            signal.SetListening(false);
        }
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Listening for config changes on channel {Channel}")]
    private static partial void LogListening(ILogger logger, string channel);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Config change listener lost its connection; watchers poll until it reconnects")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);
}
