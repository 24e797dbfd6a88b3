using System.Collections.Concurrent;
using System.Net;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Tests.Support;

/// <summary>A resolver whose answers the test gives, one lookup at a time; it counts the lookups it was asked for.</summary>
internal sealed class FakeReverseDnsResolver : IReverseDnsResolver
{
    private readonly ConcurrentQueue<(IPAddress Address, TaskCompletionSource<ReverseDnsResult> Answer)> _calls = new();

    public int Calls => _calls.Count;

    public int CallsFor(IPAddress address) => _calls.Count(c => c.Address.Equals(address));

    public Task<ReverseDnsResult> ResolveAsync(IPAddress address, CancellationToken cancellationToken)
    {
        var answer = new TaskCompletionSource<ReverseDnsResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        cancellationToken.Register(() => answer.TrySetCanceled(cancellationToken));
        _calls.Enqueue((address, answer));
        return answer.Task;
    }

    /// <summary>Answers the open lookups of <paramref name="address"/>, waiting (bounded) for one to arrive.</summary>
    public async Task AnswerAsync(IPAddress address, ReverseDnsResult result)
    {
        foreach (var call in await OpenAsync(address))
        {
            call.SetResult(result);
        }
    }

    /// <summary>Makes the open lookups of <paramref name="address"/> throw, as a faulty resolver would.</summary>
    public async Task FaultAsync(IPAddress address, Exception exception)
    {
        foreach (var call in await OpenAsync(address))
        {
            call.SetException(exception);
        }
    }

    private async Task<List<TaskCompletionSource<ReverseDnsResult>>> OpenAsync(IPAddress address)
    {
        List<TaskCompletionSource<ReverseDnsResult>> open = [];
        await Wait.UntilAsync(() =>
        {
            open = _calls.Where(c => c.Address.Equals(address) && !c.Answer.Task.IsCompleted).Select(c => c.Answer).ToList();
            return open.Count > 0;
        }, $"a lookup of {address}");
        return open;
    }
}
