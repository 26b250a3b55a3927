namespace ChatOps.Core.Execution;

/// <summary>
/// Pause, resume and cancel for a running script — what <c>/migrate pause|resume|rollback</c> will press.
/// A pause takes effect at the next statement boundary (never inside a transaction block); a cancel
/// takes effect at once, cancelling the running statement.
/// </summary>
public sealed class ExecutionControl
{
    private readonly object _gate = new();
    private TaskCompletionSource _resumed = NewResumed(completed: true);
    private readonly CancellationTokenSource _cancel = new();

    public bool IsPaused
    {
        get { lock (_gate) return !_resumed.Task.IsCompleted; }
    }

    public bool IsCancelRequested => _cancel.IsCancellationRequested;

    /// <summary>Signalled when <see cref="Cancel"/> is called.</summary>
    public CancellationToken Cancellation => _cancel.Token;

    public void Pause()
    {
        lock (_gate)
            if (_resumed.Task.IsCompleted) _resumed = NewResumed(completed: false);
    }

    public void Resume()
    {
        lock (_gate) _resumed.TrySetResult();
    }

    public void Cancel()
    {
        _cancel.Cancel();
        Resume();
    }

    /// <summary>Completes at once when not paused, otherwise when resumed or cancelled.</summary>
    public Task WaitWhilePausedAsync(CancellationToken cancellationToken)
    {
        Task resumed;
        lock (_gate) resumed = _resumed.Task;
        return resumed.WaitAsync(cancellationToken);
    }

    private static TaskCompletionSource NewResumed(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed) tcs.SetResult();
        return tcs;
    }
}
