using ChatOps.Core.Scripts;

namespace ChatOps.Core.Execution;

/// <summary>
/// Something that happened while a script ran, as it happened. The command line renders these as a
/// timeline; the chat layer will render them as messages.
/// </summary>
public abstract record ExecutionEvent(DateTimeOffset At);

/// <summary>A statement was sent (attempt 1) or sent again after a lock timeout.</summary>
public sealed record StatementStarted(DateTimeOffset At, SqlStatement Statement, int Attempt) : ExecutionEvent(At);

/// <summary>A statement completed.</summary>
/// <param name="Duration">From the first attempt to completion, including waits.</param>
/// <param name="LockWait">Time spent waiting for locks or for blockers to finish, across attempts.</param>
/// <param name="Rows">Rows affected, or -1 when the statement reports none.</param>
public sealed record StatementFinished(DateTimeOffset At, SqlStatement Statement, TimeSpan Duration, TimeSpan LockWait, long Rows, int Attempts) : ExecutionEvent(At);

/// <summary>The server sent a NOTICE (or WARNING, INFO) while <paramref name="Statement"/> ran.</summary>
public sealed record NoticeReceived(DateTimeOffset At, SqlStatement? Statement, string Severity, string Message) : ExecutionEvent(At);

/// <summary>A statement failed; the run stops here.</summary>
public sealed record StatementFailed(DateTimeOffset At, SqlStatement Statement, string? SqlState, string Message) : ExecutionEvent(At);
