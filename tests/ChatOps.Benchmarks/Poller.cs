namespace ChatOps.Benchmarks;

/// <summary>Runs one poll, then waits <c>every</c>, on its own task, until disposed; the instruments' shared loop.</summary>
public sealed class Poller : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Poller(Func<Task> poll, TimeSpan every)
    {
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                await poll();
                try { await Task.Delay(every, _stop.Token); } catch (OperationCanceledException) { }
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
