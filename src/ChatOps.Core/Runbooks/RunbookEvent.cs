using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;

namespace ChatOps.Core.Runbooks;

/// <summary>
/// The runbook run's event stream — what the chat layer will render as the card, the thread's status
/// posts and the alerts; the command line renders it as a timeline.
/// </summary>
public abstract record RunbookEvent(DateTimeOffset At);

/// <summary>
/// <see cref="Phase"/> is next: the last moment to hold the run before it starts (<see cref="Execution.ExecutionControl.PauseBeforeNextPhase"/>,
/// called from the event handler, holds it). Emitted before phases 1 to 4, never before the verdict, which is no phase.
/// </summary>
public sealed record PhaseDue(DateTimeOffset At, RunbookPhase Phase) : RunbookEvent(At);

public sealed record PhaseStarted(DateTimeOffset At, RunbookPhase Phase) : RunbookEvent(At);

public sealed record PhaseFinished(DateTimeOffset At, RunbookPhase Phase, TimeSpan Duration, bool Ok, string Summary) : RunbookEvent(At);

/// <summary>A check or validation came out.</summary>
public sealed record CheckCompleted(DateTimeOffset At, RunbookPhase Phase, CheckResult Check) : RunbookEvent(At);

/// <summary>A measurement (benchmark, RLS overhead, index usage, lock hold …) with its unit.</summary>
public sealed record Measured(DateTimeOffset At, RunbookPhase Phase, string Name, double Value, string Unit, string Detail) : RunbookEvent(At);

/// <summary>The sampler looked at the target (a sample or a gap).</summary>
public sealed record Sampled(DateTimeOffset At, MonitoringReading Reading) : RunbookEvent(At);

/// <summary>A threshold rule breached, cleared, or monitoring degraded.</summary>
public sealed record ThresholdReported(DateTimeOffset At, ThresholdEvent Threshold) : RunbookEvent(At);

/// <summary>The executor reported something while running a script.</summary>
public sealed record ExecutionReported(DateTimeOffset At, ExecutionEvent Execution) : RunbookEvent(At);

/// <summary>The run's verdict: success only when the migration ran, every validation held, every criterion was met and no rollback trigger fired.</summary>
public sealed record VerdictReached(DateTimeOffset At, bool Succeeded, IReadOnlyList<CriterionResult> Criteria, IReadOnlyList<string> Reasons) : RunbookEvent(At);

/// <summary>The run read the migration's history on the target (under the run lock) and decided what to do.</summary>
/// <param name="Last">The migration's latest history entry there, or null when it never ran there.</param>
public sealed record HistoryConsulted(DateTimeOffset At, ChatOps.Core.Migrations.HistoryEntry? Last, ChatOps.Core.Migrations.RunDecision Decision) : RunbookEvent(At);

/// <summary>
/// The run reached a point another process can continue from: after phase 1 (and after each statement of phase 2, whose
/// measurements it carries), when phase 2 and phase 3 finish, and at once when a run resumed (with its own history entry).
/// The caller keeps the latest one (the bot in its state database) and passes it as the request's <c>ResumeFrom</c>.
/// </summary>
public sealed record CheckpointReached(DateTimeOffset At, RunbookCheckpoint Checkpoint) : RunbookEvent(At);

/// <summary>
/// A run continued from a checkpoint: at <see cref="Phase"/>, with the baseline measured at <see cref="BaselineAt"/> by run
/// <see cref="BaselineRunId"/>; nothing of phase 1 is measured again.
/// </summary>
/// <param name="Detail">What the resumed run did not do again and why, and the state of the rows kept at baseline.</param>
public sealed record RunbookResumed(DateTimeOffset At, RunbookPhase Phase, DateTimeOffset BaselineAt, string BaselineRunId, long EarlierHistoryId, string Detail)
    : RunbookEvent(At);
