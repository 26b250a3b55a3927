using ChatOps.Core.Scripts;

namespace ChatOps.Core.Execution;

/// <summary>
/// Something that happened while a script ran, as it happened. The command line renders these as a
/// timeline; the chat layer renders them as messages.
/// </summary>
public abstract record ExecutionEvent(DateTimeOffset At);

/// <summary>The run took the target's run lock and is about to execute <paramref name="Statements"/> statements.</summary>
public sealed record RunStarted(DateTimeOffset At, string RunId, int Statements, int AlreadyDone) : ExecutionEvent(At);

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    Succeeded,
    Failed,
    Cancelled,
}

public sealed record RunFinished(DateTimeOffset At, RunOutcome Outcome, TimeSpan Duration, int StatementsRun) : ExecutionEvent(At);

/// <summary>A statement was sent (attempt 1) or sent again after a lock timeout.</summary>
public sealed record StatementStarted(DateTimeOffset At, SqlStatement Statement, int Attempt) : ExecutionEvent(At);

/// <summary>A statement completed.</summary>
/// <param name="Duration">From the first attempt to completion, including waits.</param>
/// <param name="LockWait">Time spent waiting for blockers, in failed attempts and in back-off sleeps.</param>
/// <param name="LockHeld">How long the successful attempt held its table locks (to its commit), or zero when it takes none.</param>
/// <param name="Rows">Rows affected, or -1 when the statement reports none.</param>
/// <param name="ExclusiveLocks">The tables the server had granted ACCESS EXCLUSIVE to the statement's unit just before it committed
/// (read from <c>pg_locks</c> inside the unit's transaction); null when the unit could not be measured (it ran in autocommit).</param>
public sealed record StatementFinished(DateTimeOffset At, SqlStatement Statement, TimeSpan Duration, TimeSpan LockWait, TimeSpan LockHeld, long Rows, int Attempts,
    IReadOnlyList<string>? ExclusiveLocks = null) : ExecutionEvent(At);

/// <summary>A statement was not run: the journal or its postcondition says it already took effect.</summary>
public sealed record StatementSkipped(DateTimeOffset At, SqlStatement Statement, string Reason) : ExecutionEvent(At);

/// <summary>Sessions hold conflicting locks inside old transactions: the executor waits instead of knocking.</summary>
public sealed record WaitingForBlockers(DateTimeOffset At, SqlStatement Statement, IReadOnlyList<BlockingSession> Blockers) : ExecutionEvent(At);

/// <summary>An attempt hit <c>lock_timeout</c> (SQLSTATE 55P03); the executor sleeps and tries again.</summary>
public sealed record StatementRetried(DateTimeOffset At, SqlStatement Statement, int Attempt, TimeSpan Sleep, IReadOnlyList<BlockingSession> Blockers) : ExecutionEvent(At);

/// <summary>An INVALID index left by an earlier failed or cancelled concurrent build was dropped before rebuilding it.</summary>
public sealed record InvalidIndexDropped(DateTimeOffset At, SqlStatement Statement, string Index) : ExecutionEvent(At);

/// <summary>The server sent a NOTICE (or WARNING, INFO) while <paramref name="Statement"/> ran.</summary>
public sealed record NoticeReceived(DateTimeOffset At, SqlStatement? Statement, string Severity, string Message) : ExecutionEvent(At);

/// <summary>The run stopped at a statement boundary because someone paused it.</summary>
public sealed record RunPaused(DateTimeOffset At, SqlStatement Next) : ExecutionEvent(At);

public sealed record RunResumed(DateTimeOffset At) : ExecutionEvent(At);

/// <summary>The run was cancelled; a running statement was cancelled with <c>pg_cancel_backend</c>.</summary>
public sealed record RunCancelled(DateTimeOffset At, SqlStatement? During) : ExecutionEvent(At);

/// <summary>A statement failed; the run stops here.</summary>
/// <param name="Blockers">When it gave up waiting for locks: who held them.</param>
public sealed record StatementFailed(DateTimeOffset At, SqlStatement Statement, string? SqlState, string Message, IReadOnlyList<BlockingSession> Blockers) : ExecutionEvent(At);

/// <summary>
/// An autovacuum worker holds a lock the statement needs. An ordinary one is cancelled (<paramref name="Cancelled"/>: by the
/// executor, as PostgreSQL itself would after <c>deadlock_timeout</c>; otherwise the attempt waits that long so PostgreSQL
/// does it); one running "to prevent wraparound" PostgreSQL never cancels, and the executor waits for it.
/// </summary>
public sealed record AutovacuumInTheWay(DateTimeOffset At, SqlStatement Statement, BlockingSession Worker, bool Wraparound, bool Cancelled) : ExecutionEvent(At);
