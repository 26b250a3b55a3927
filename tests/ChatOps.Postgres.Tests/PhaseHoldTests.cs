using ChatOps.Core.Execution;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// A run held before its next phase (<see cref="ExecutionControl.PauseBeforeNextPhase"/>: the maintenance window ended) and told to stop
/// (<c>abort</c>) or shut down ends promptly: nobody resumes a run that was told to end, so no hold may wait for a resume.
/// </summary>
public class PhaseHoldTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    private static string Script(string table) => $"CREATE TABLE public.{table} (id int);\n";

    [Fact]
    public async Task An_abort_during_a_read_only_phase_then_the_window_s_hold_before_the_next_phase_ends_the_run()
    {
        // What the bot does when the abort comes during phase 3 and the window has ended by its end: the sweep stops the run, then the
        // window's handler holds it before phase 4 — on the runner's thread, at the boundary.
        var control = new ExecutionControl();
        var running = Runbooks.RunAsync(db.ConnectionString, Script("ph_abort_t"), MigrationRunbook.Empty, control, e =>
        {
            if (e is PhaseStarted { Phase: RunbookPhase.IndexBuilds })
                control.StopAtBoundary();
            if (e is PhaseDue { Phase: RunbookPhase.Validation })
                control.PauseBeforeNextPhase();
        });
        var (result, events) = await Poll.WithinAsync(running, "the stopped run to end", TimeSpan.FromMinutes(2));

        Assert.Equal(RunbookOutcome.Cancelled, result.Outcome);
        Assert.False(control.IsPaused);   // the hold after the stop held nothing
        Assert.DoesNotContain(events, e => e is PhaseStarted { Phase: RunbookPhase.Validation });
        Assert.Contains(events, e => e is PhaseFinished { Phase: RunbookPhase.IndexBuilds, Ok: true });   // the running phase finished
        Assert.Single(events.OfType<VerdictReached>());
    }

    [Fact]
    public async Task A_stop_asked_while_the_run_is_held_before_the_next_phase_ends_it()
    {
        var control = new ExecutionControl();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = Runbooks.RunAsync(db.ConnectionString, Script("ph_held_t"), MigrationRunbook.Empty, control, e =>
        {
            if (e is PhaseDue { Phase: RunbookPhase.Validation })
            {
                control.PauseBeforeNextPhase();
                held.TrySetResult();
            }
        });
        await Poll.WithinAsync(held.Task, "the run to be held before phase 4", TimeSpan.FromMinutes(2));
        Assert.True(control.HoldsBeforeAnyPhase);
        Assert.False(running.IsCompleted);

        control.StopAtBoundary();
        var (result, events) = await Poll.WithinAsync(running, "the held run to end once stopped", TimeSpan.FromMinutes(1));
        Assert.Equal(RunbookOutcome.Cancelled, result.Outcome);
        Assert.DoesNotContain(events, e => e is PhaseStarted { Phase: RunbookPhase.Validation });
    }

    [Fact]
    public async Task A_shutdown_while_the_run_is_held_before_the_next_phase_ends_it()
    {
        var control = new ExecutionControl();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var shutdown = new CancellationTokenSource();
        var running = Runbooks.RunAsync(db.ConnectionString, Script("ph_shutdown_t"), MigrationRunbook.Empty, control, e =>
        {
            if (e is PhaseDue { Phase: RunbookPhase.Validation })
            {
                control.PauseBeforeNextPhase();
                held.TrySetResult();
            }
        }, cancellationToken: shutdown.Token);
        await Poll.WithinAsync(held.Task, "the run to be held before phase 4", TimeSpan.FromMinutes(2));

        // The process stops (another replica takes the deployment over): the hold lets go with it.
        await shutdown.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Poll.WithinAsync(running, "the held run to end at shutdown", TimeSpan.FromMinutes(1)));
        Assert.True(control.IsPaused);   // still held: nobody resumed it, the shutdown ended it
    }
}
