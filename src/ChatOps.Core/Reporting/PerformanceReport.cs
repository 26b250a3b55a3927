using System.Globalization;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Reporting;

/// <summary>How long a runbook phase took.</summary>
public sealed record PhaseDuration(RunbookPhase Phase, TimeSpan Duration);

/// <summary>How long one of the migration's statements held ACCESS EXCLUSIVE (<c>StatementFinished.LockHeld</c> of a unit that took it).</summary>
/// <param name="Statement">The statement as people recognise it (its first line, say).</param>
public sealed record ExclusiveLockHold(string Statement, TimeSpan Held);

/// <summary>A benchmark query before the migration (the baseline) and after it.</summary>
/// <param name="Regressed">Whether the degradation judge counted it as regressed (more work and slower beyond noise); a slower
/// time with the same plan and buffers, or inside the noise, is not.</param>
public sealed record BenchmarkComparison(string Query, double BeforeMs, double AfterMs, bool Regressed)
{
    /// <summary>The change in the median time, in percent (positive is slower).</summary>
    public double DeltaPercent => BeforeMs <= 0 ? 0 : 100 * (AfterMs - BeforeMs) / BeforeMs;
}

/// <summary>How often an index the migration created was used (<c>pg_stat_user_indexes.idx_scan</c>) by the end of monitoring.</summary>
public sealed record IndexUsage(string Index, long Scans);

/// <summary>
/// The checklist's "Performance Report" (issue 14 §4), posted when post-deployment monitoring ends: durations per phase, lock
/// holds, blocked sessions, benchmark deltas before/after, RLS overhead, index usage, breaches and how they ended. The values
/// the checklist has success criteria for are marked against them (<see cref="Checklist.SuccessCriteria"/>).
/// </summary>
/// <param name="State">The deployment's state as the report is posted: <see cref="DeploymentState.Completed"/>, normally.</param>
/// <param name="DuringRun">From <see cref="MonitoringSummary.DuringRun"/>.</param>
/// <param name="DuringMonitoring">From <see cref="MonitoringSummary.DuringMonitoring"/>.</param>
/// <param name="RlsOverheadBeforeMs">At the baseline; null when not measured (no RLS probe in the runbook).</param>
/// <param name="IndexUsage">The indexes the migration created; empty when it created none.</param>
/// <param name="Breaches">From <see cref="MonitoringSummary.Breaches"/>.</param>
/// <param name="MonitoringDuration">How long post-deployment monitoring ran.</param>
public sealed record PerformanceReport(
    DeploymentId Deployment,
    string Migration,
    DeploymentState State,
    IReadOnlyList<PhaseDuration> Phases,
    IReadOnlyList<ExclusiveLockHold> ExclusiveLockHolds,
    ApplicationPeaks DuringRun,
    ApplicationPeaks DuringMonitoring,
    IReadOnlyList<BenchmarkComparison> Benchmarks,
    double? RlsOverheadBeforeMs,
    double? RlsOverheadAfterMs,
    IReadOnlyList<IndexUsage> IndexUsage,
    IReadOnlyList<BreachRecord> Breaches,
    TimeSpan MonitoringDuration)
{
    /// <summary>From <see cref="MonitoringSummary.Degradations"/>: when monitoring could not see.</summary>
    public IReadOnlyList<MonitoringDegraded> Degradations { get; init; } = [];

    /// <summary>How many lock holds are listed, longest first.</summary>
    internal const int HoldsShown = 3;

    private static SuccessCriterion Criterion(string name) => Checklist.SuccessCriteria.Single(c => c.Name == name);

    public ChatMessage Render()
    {
        var missed = new List<string>();
        var fields = new List<MessageField>
        {
            new("phase durations", PhaseLine()),
            new("ACCESS EXCLUSIVE holds", Holds(missed)),
            new("blocked app sessions", Blocked(missed)),
            new("longest app lock wait", $"{LockWait(DuringRun)} during the run · {LockWait(DuringMonitoring)} during monitoring"),
            new("queries vs baseline", Queries(missed)),
            new("RLS overhead", Rls(missed)),
            new("index usage", Indexes()),
            new("monitoring", MonitoringLine()),
        };
        var sections = new List<ChecklistSection>();
        if (Breaches.Count == 0)
            fields.Add(new("breaches", "none"));
        else
            sections.Add(new("Breaches", Breaches.Select(BreachLine).ToList()));

        var verdict = missed.Count == 0 ? "success criteria met ✅" : $"❌ over the checklist's limits: {string.Join(", ", missed)}";
        return new ChatMessage($"📈 {Deployment} · performance report · {Migration}",
            $"{StateText()} · {ReportText.Span(MonitoringDuration)} after deployment · {verdict}")
        {
            Fields = fields,
            Checklists = sections,
            Footer = "lessons learned: reply in this thread (what went well, what to change) — replies here are kept in /migrate history",
        };
    }

    /// <summary>The prompt for lessons learned, posted in the deployment's thread after the report.</summary>
    public static ChatMessage LessonsLearned(DeploymentId deployment) =>
        new($"📝 {deployment} · lessons learned")
        {
            Footer = "reply in this thread: what went well, what to change — replies here are kept in /migrate history",
        };

    private string StateText() => State switch
    {
        DeploymentState.Completed => "✅ COMPLETED",
        DeploymentState.RolledBack => "⏪ ROLLED BACK",
        _ => Deployments.Deployment.Describe(State).ToUpperInvariant(),
    };

    private string PhaseLine()
    {
        if (Phases.Count == 0)
            return "not recorded";
        var total = Phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Duration);
        return string.Join(" · ", Phases.Select(p => $"{Short(p.Phase)} {Durations.Short(p.Duration)}")) + $" · total {Durations.Short(total)}";
    }

    // Short names: the phase titles contain " · ", the separator of this line.
    private static string Short(RunbookPhase phase) => phase switch
    {
        RunbookPhase.PreDeployment => "pre-deployment",
        RunbookPhase.Baseline => "1 baseline",
        RunbookPhase.Migration => "2 migration",
        RunbookPhase.IndexBuilds => "3 index builds",
        RunbookPhase.Validation => "4 validation",
        _ => "verdict",
    };

    private string Holds(List<string> missed)
    {
        var criterion = Criterion("longest ACCESS EXCLUSIVE hold");
        if (ExclusiveLockHolds.Count == 0)
            return "none taken ✅";
        var holds = ExclusiveLockHolds.OrderByDescending(h => h.Held).ToList();
        var longest = holds[0].Held;
        var mark = Mark(criterion, longest.TotalMilliseconds, missed);
        var listed = string.Join(" · ", holds.Take(HoldsShown).Select(h => $"{h.Statement} {Durations.Short(h.Held)}"));
        var more = holds.Count > HoldsShown ? $" · {holds.Count - HoldsShown} more" : "";
        return $"longest {Durations.Short(longest)} {mark} (limit {Limit(criterion)}): {listed}{more}";
    }

    private string Blocked(List<string> missed)
    {
        var criterion = Criterion("peak blocked application sessions");
        string Period(ApplicationPeaks p) => p.Samples == 0
            ? "not sampled"
            : p.PeakBlockedApp == p.PeakBlockedByMigration
                ? $"peak {p.PeakBlockedByMigration}"
                : $"peak {p.PeakBlockedByMigration} by the migration ({p.PeakBlockedApp} in all)";
        var text = $"{Period(DuringRun)} during the run · {Period(DuringMonitoring)} during monitoring";
        var sampled = new[] { DuringRun, DuringMonitoring }.Where(p => p.Samples > 0).ToList();
        if (sampled.Count == 0)
            return $"{text} ⚠️ (limit {Limit(criterion)})";
        // The criterion is about the migration's doing, as the rollback trigger is: the application blocking itself is shown, not judged.
        return $"{text} {Mark(criterion, sampled.Max(p => p.PeakBlockedByMigration), missed)} (limit {Limit(criterion)})";
    }

    private static string LockWait(ApplicationPeaks p) => p.Samples == 0 ? "not sampled" : ReportText.Value(Metric.AppLockWaitMs, p.LongestAppLockWait.TotalMilliseconds);

    private string Queries(List<string> missed)
    {
        var criterion = Criterion("query degradation");
        if (Benchmarks.Count == 0)
            return "not measured (no benchmark queries in the runbook)";
        var listed = string.Join(" · ", Benchmarks.Select(b =>
            $"{b.Query} {Ms(b.BeforeMs)} → {Ms(b.AfterMs)} ms ({ReportText.SignedPercent(b.DeltaPercent)}{(b.Regressed ? ", regressed" : "")})"));
        // Judged as the verdict judged it: only a query doing more work and slower beyond the noise counts.
        var regressed = Benchmarks.Where(b => b.Regressed).Select(b => b.DeltaPercent).DefaultIfEmpty(0).Max();
        var noise = !Benchmarks.Any(b => b.Regressed) && Benchmarks.Any(b => b.DeltaPercent > criterion.Limit)
            ? "; none regressed (same plan and buffers, or within the noise)" : "";
        return $"{listed} {Mark(criterion, regressed, missed)} (limit {Limit(criterion)}){noise}";
    }

    private string Rls(List<string> missed)
    {
        var criterion = Criterion("RLS overhead");
        if (RlsOverheadAfterMs is not { } after)
            return RlsOverheadBeforeMs is { } b ? $"not measured after (was {Ms(b)} ms) ⚠️" : "not measured (no RLS probe in the runbook)";
        var was = RlsOverheadBeforeMs is { } before ? $" (was {Ms(before)} ms)" : "";
        return $"{Ms(after)} ms{was} {Mark(criterion, after, missed)} (limit {Limit(criterion)})";
    }

    private string Indexes() =>
        IndexUsage.Count == 0
            ? "no new indexes"
            : string.Join(" · ", IndexUsage.Select(i => $"{i.Index} {ReportText.Count((int)Math.Min(i.Scans, int.MaxValue), "scan")}" + (i.Scans == 0 ? " ⚠️ unused" : "")));

    private string MonitoringLine()
    {
        var text = $"{ReportText.Span(MonitoringDuration)}";
        if (DuringMonitoring.Samples > 0 || DuringMonitoring.Gaps > 0)
            text += $" · {DuringMonitoring.Samples} samples, {DuringMonitoring.Gaps} failed";
        if (Degradations.Count > 0)
            text += $" · degraded {Degradations.Count}× (longest {ReportText.Span(Degradations.Max(d => d.Gap))} without samples)";
        return text;
    }

    private static ChecklistLine BreachLine(BreachRecord b)
    {
        var rule = b.Breach.Rule;
        var when = b.DuringMonitoring ? "during monitoring" : "during the run";
        var text = $"{rule.Name} ({ReportText.Describe(rule)}) {when}: from {ReportText.Clock(b.Breach.Since)}, worst {ReportText.Value(rule.Metric, b.Worst)}";
        return b.End switch
        {
            BreachEnd.Cleared => new(ChecklistState.Done,
                $"{text} — cleared at {ReportText.Clock(b.EndedAt!.Value)} after {ReportText.Span(b.EndedAt.Value - b.Breach.Since)}"),
            BreachEnd.RolledBack => new(ChecklistState.Failed, $"{text} — rolled back at {ReportText.Clock(b.EndedAt!.Value)}"),
            _ => new(ChecklistState.Failed, $"{text} — still breaching"),
        };
    }

    private static string Mark(SuccessCriterion criterion, double value, List<string> missed)
    {
        if (criterion.IsMetBy(value))
            return ChecklistState.Done.Mark();
        missed.Add(criterion.Name);
        return ChecklistState.Failed.Mark();
    }

    private static string Limit(SuccessCriterion c) => $"{(c.AtMost ? "≤" : "≥")} {ReportText.Number(c.Limit)}{c.Unit}";

    // Benchmark queries on a small table run in fractions of a millisecond: "0.0 → 0.0 ms" would say nothing.
    private static string Ms(double ms) => ms.ToString(Math.Abs(ms) < 1 ? "0.000" : "0.0", CultureInfo.InvariantCulture);
}
