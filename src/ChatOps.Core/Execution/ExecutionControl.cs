namespace ChatOps.Core.Execution;

/// <summary>
/// Pause, resume, stop and cancel for a running script — what <c>/migrate pause|resume|abort|rollback</c> press.
/// A pause takes effect at the next statement boundary (never inside a transaction block) or before the next phase after the
/// migration's statements started (<see cref="PauseBeforeNextPhase"/>: before any phase); a stop
/// (<c>abort</c>) at the next statement boundary or phase, letting the running statement finish; a cancel (<c>rollback</c>,
/// Ctrl-C) at once, cancelling the running statement.
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

    private volatile bool _stopRequested;

    /// <summary>True once <see cref="StopAtBoundary"/> was called.</summary>
    public bool IsStopRequested => _stopRequested;

    /// <summary>Stops the run at the next statement boundary or phase: the running statement finishes, nothing more starts.</summary>
    public void StopAtBoundary()
    {
        _stopRequested = true;   // before the resume: a hold taken after it sees the stop and holds nothing
        Resume();   // a paused run stops rather than waiting to be resumed
    }

    /// <summary>A stop or a cancel was asked: the run ends at its next boundary, and nothing holds it any more.</summary>
    private bool Ending => _stopRequested || IsCancelRequested;

    /// <summary>
    /// Called by the runner at a boundary (between statements, before a phase): a requested stop becomes a cancel now, so the
    /// run ends the way a cancel ends it. True when the run must end here.
    /// </summary>
    public bool AtBoundary()
    {
        if (_stopRequested && !IsCancelRequested)
            _cancel.Cancel();
        return IsCancelRequested;
    }

    /// <summary>Signalled when <see cref="Cancel"/> is called.</summary>
    public CancellationToken Cancellation => _cancel.Token;

    private bool _beforeAnyPhase;

    /// <summary>
    /// True while a <see cref="PauseBeforeNextPhase"/> holds: the run waits before whichever phase comes next, not only before the
    /// migration's statements.
    /// </summary>
    public bool HoldsBeforeAnyPhase
    {
        get { lock (_gate) return _beforeAnyPhase && !_resumed.Task.IsCompleted; }
    }

    /// <summary>
    /// Pauses where a plain <see cref="Pause"/> would, and also before the read-only phases that come before the migration's statements
    /// (phase 1, and phase 2 itself): no phase starts until <see cref="Resume"/>. A plain pause lets the checks and the baseline go on and
    /// holds the first statement; this one is for "no phase starts after the maintenance window's end". Nothing once a stop or a cancel
    /// was asked: the run ends at the boundary instead, and a hold there would wait for a resume nobody sends.
    /// </summary>
    public void PauseBeforeNextPhase()
    {
        lock (_gate)
        {
            if (Ending)
                return;
            _beforeAnyPhase = true;
            if (_resumed.Task.IsCompleted) _resumed = NewResumed(completed: false);
        }
    }

    /// <summary>Pauses at the next statement boundary (after the statements started, at the next phase too); nothing once a stop or a cancel was asked.</summary>
    public void Pause()
    {
        lock (_gate)
            if (!Ending && _resumed.Task.IsCompleted) _resumed = NewResumed(completed: false);
    }

    public void Resume()
    {
        lock (_gate)
        {
            _beforeAnyPhase = false;
            _resumed.TrySetResult();
        }
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
