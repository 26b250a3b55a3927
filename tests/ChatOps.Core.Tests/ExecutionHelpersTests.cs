using ChatOps.Core.Execution;

namespace ChatOps.Core.Tests;

public class QueryTextTests
{
    [Theory]
    [InlineData("UPDATE contacts SET name = 'Erin O''Neil' WHERE id = 42", "UPDATE contacts SET name = ? WHERE id = ?")]
    [InlineData("SELECT  *\n FROM t WHERE a = E'x\\'y' AND b = $1", "SELECT * FROM t WHERE a = ? AND b = $1")]
    [InlineData("SELECT $q$secret$q$, col2 FROM t2", "SELECT ?, col2 FROM t2")]
    [InlineData("SELECT * FROM t WHERE email = 'cut off in the mid", "SELECT * FROM t WHERE email = ?")]
    [InlineData("", "(no query)")]
    public void Literals_become_question_marks(string query, string redacted) => Assert.Equal(redacted, QueryText.Redact(query));

    [Fact]
    public void Long_queries_are_cut() => Assert.Equal(21, QueryText.Redact("SELECT " + new string('x', 500), max: 20).Length);
}

public class LockRetryBackoffTests
{
    [Fact]
    public void Sleeps_start_short_grow_and_stop_growing_at_the_cap()
    {
        var backoff = new LockRetryBackoff(new Random(7));
        var sleeps = Enumerable.Range(1, 12).Select(backoff.After).ToList();

        Assert.InRange(sleeps[0].TotalMilliseconds, 37.5, 62.5);
        Assert.InRange(sleeps[1].TotalMilliseconds, 75, 125);
        Assert.All(sleeps, s => Assert.True(s <= TimeSpan.FromSeconds(6.25)));
        Assert.InRange(sleeps[^1].TotalSeconds, 3.75, 6.25);
        Assert.True(sleeps.Distinct().Count() > 10, "jitter makes waiters not knock in step");
    }
}

public class ExecutionControlTests
{
    [Fact]
    public async Task Pause_holds_waiters_until_resume_and_cancel_releases_them()
    {
        var control = new ExecutionControl();
        Assert.True(control.WaitWhilePausedAsync(CancellationToken.None).IsCompleted);

        control.Pause();
        var waiting = control.WaitWhilePausedAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        control.Resume();
        await waiting;

        control.Pause();
        var again = control.WaitWhilePausedAsync(CancellationToken.None);
        control.Cancel();
        await again;
        Assert.True(control.IsCancelRequested);
        Assert.True(control.Cancellation.IsCancellationRequested);
    }

    [Fact]
    public void A_hold_before_the_next_phase_is_a_pause_that_says_so_until_resumed()
    {
        var control = new ExecutionControl();
        control.Pause();
        Assert.False(control.HoldsBeforeAnyPhase);   // a plain pause: the read-only phases before the statements go on

        control.PauseBeforeNextPhase();               // on top of a plain pause, it moves the hold to before the next phase
        Assert.True(control.HoldsBeforeAnyPhase);
        Assert.True(control.IsPaused);

        control.Resume();
        Assert.False(control.HoldsBeforeAnyPhase);
        Assert.False(control.IsPaused);
        control.Pause();
        Assert.False(control.HoldsBeforeAnyPhase);   // resumed once, a later plain pause is plain again
    }

    [Fact]
    public void Once_a_stop_or_a_cancel_was_asked_no_pause_holds_the_run()
    {
        // The run ends at its next boundary: a hold taken after the stop would wait for a resume nobody sends.
        var stopped = new ExecutionControl();
        stopped.StopAtBoundary();
        stopped.PauseBeforeNextPhase();
        stopped.Pause();
        Assert.False(stopped.IsPaused);
        Assert.False(stopped.HoldsBeforeAnyPhase);
        Assert.True(stopped.WaitWhilePausedAsync(CancellationToken.None).IsCompleted);

        var cancelled = new ExecutionControl();
        cancelled.Cancel();
        cancelled.PauseBeforeNextPhase();
        Assert.False(cancelled.IsPaused);
        Assert.True(cancelled.WaitWhilePausedAsync(CancellationToken.None).IsCompleted);

        // Held first, a stop lets the hold go.
        var held = new ExecutionControl();
        held.PauseBeforeNextPhase();
        var waiting = held.WaitWhilePausedAsync(CancellationToken.None);
        held.StopAtBoundary();
        Assert.True(waiting.IsCompleted);
        Assert.True(held.AtBoundary());
    }
}
