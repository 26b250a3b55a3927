namespace ChatOps.Bot.Tests;

/// <summary>
/// The system's clock with a wall-clock time that can jump forward: deadlines (a rollback prompt's 5 minutes) are passed without
/// waiting, while the bot's loops keep their real timers. A <c>FakeTimeProvider</c> cannot drive the whole bot: its timers fire
/// only when a test advances it, and the bot waits on timers everywhere (the owner's sweep, the outbox's retries, settling, the
/// runbook's samples) while it talks to a real PostgreSQL.
/// </summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    /// <summary>Moves the wall clock forward by <paramref name="by"/>; timers and timestamps are not affected.</summary>
    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
