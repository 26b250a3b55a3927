using System.Globalization;
using ChatOps.Core.Conversation;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Reporting;

/// <summary>
/// The status post (issue 14 §2): posted in the deployment's thread every <c>ChatOps:Status:Interval</c> and on <c>status</c>.
/// Each metric that has a threshold rule is marked against it — ✅ within, ⚠️ over the threshold but not yet for its window (or no
/// reading to judge), ❌ breached — with the threshold shown; connections and replication lag against the server's limits
/// (<see cref="ServerLimits"/>), as the pre-deployment checks judge them. Missing data is said to be missing, never shown as zeros.
/// </summary>
public static class StatusReport
{
    public static ChatMessage Render(StatusSnapshot snapshot)
    {
        var marks = new List<(string Label, ChecklistState State)>();
        var sample = snapshot.CurrentSample;
        var missing = NoSample(snapshot);
        var fields = new List<MessageField>
        {
            new("phase", PhaseLine(snapshot)),
            new("elapsed", Durations.Short(snapshot.Now - snapshot.StartedAt)),
        };
        if (sample is null)
            fields.Add(new("sampling", Sampling(snapshot)));

        fields.Add(new("index builds", sample is null ? missing : IndexBuilds(sample)));
        fields.Add(Marked("longest app lock wait", Metric.AppLockWaitMs, sample?.LongestAppLockWait.TotalMilliseconds,
            v => ReportText.Value(Metric.AppLockWaitMs, v), missing));
        // During the run the rule watches the sessions blocked by the migration, and the application blocking itself is shown beside it,
        // unmarked; after it every blocked application session counts, as the rule then counts them (ThresholdMonitor.AfterDeployment).
        var afterDeployment = snapshot.Stage == StatusStage.PostDeploymentMonitoring;
        fields.Add(Marked("blocked app sessions", Metric.BlockedAppSessions, afterDeployment ? sample?.BlockedApp : sample?.BlockedByMigration,
            _ => afterDeployment ? sample!.BlockedApp.ToString(CultureInfo.InvariantCulture) : Blocked(sample!), missing));
        // The server's own limits, as the pre-deployment checks judge them: not rollback triggers, so never "breached", but marked.
        fields.Add(Judged("connections", sample is null ? null
                : ServerLimits.ConnectionsHigh(sample.Connections, sample.MaxConnections) ? ChecklistState.Warning : ChecklistState.Done,
            sample is null ? missing : Connections(sample), $"warn > {ReportText.Number(100 * ServerLimits.ConnectionsWarnShare)} %"));
        var lagLimit = $"limit {ReportText.Span(ServerLimits.ReplicationLag)}";
        fields.Add(sample switch
        {
            null => Judged("replication lag", null, missing, lagLimit),
            { ReplicationLag: { } lag } => Judged("replication lag", ServerLimits.LagWithin(lag) ? ChecklistState.Done : ChecklistState.Failed, Durations.Short(lag), lagLimit),
            _ => new("replication lag", "no replicas"),
        });
        fields.Add(Marked("benchmark delta", Metric.QueryDegradationPercent, snapshot.BenchmarkDeltaPercent,
            v => ReportText.Value(Metric.QueryDegradationPercent, v), "not measured yet"));
        fields.Add(Marked("RLS overhead", Metric.RlsOverheadMs, snapshot.RlsOverheadMs,
            v => ReportText.Value(Metric.RlsOverheadMs, v), "not measured yet"));
        // A breached rule on a metric no field shows (the rollback ratio) still gets a line: a breach is never hidden.
        foreach (var breach in snapshot.Breaching.Where(b => !Shown.Contains(b.Rule.Metric)))
        {
            var label = breach.Rule.MetricLabel;
            marks.Add((label, ChecklistState.Failed));
            fields.Add(new(label, $"{ReportText.Value(breach.Rule.Metric, breach.Value)} {ChecklistState.Failed.Mark()} ({ReportText.Limit(breach.Rule)})"));
        }

        return new ChatMessage($"📊 {snapshot.Deployment} · status · {snapshot.Migration}", Status(snapshot, marks, sample))
        {
            Fields = fields,
            Footer = "next: " + Next(snapshot),
        };

        // Null: no reading to judge, a warning as for a rule.
        MessageField Judged(string label, ChecklistState? state, string text, string limit)
        {
            var judged = state ?? ChecklistState.Warning;
            marks.Add((label, judged));
            return new(label, $"{text} {judged.Mark()} ({limit})");
        }

        MessageField Marked(string label, Metric metric, double? value, Func<double, string> format, string whenMissing)
        {
            var rules = snapshot.Rules.Where(r => r.Metric == metric).ToList();
            var text = value is { } v ? format(v) : whenMissing;
            if (rules.Count == 0)
                return new(label, text);
            var state = Worst(rules.Select(r => Judge(r, value, snapshot.Breaching)));
            marks.Add((label, state));
            return new(label, $"{text} {state.Mark()} ({string.Join("; ", rules.Select(ReportText.Limit))})");
        }
    }

    private static readonly Metric[] Shown = [Metric.AppLockWaitMs, Metric.BlockedAppSessions, Metric.QueryDegradationPercent, Metric.RlsOverheadMs];

    /// <summary>❌ when the rule has fired and not cleared; ⚠️ when there is no reading, or it is over the threshold but not yet for its window; ✅ otherwise.</summary>
    internal static ChecklistState Judge(ThresholdRule rule, double? value, IReadOnlyList<ThresholdBreached> breaching)
    {
        if (breaching.Any(b => b.Rule.Name == rule.Name))
            return ChecklistState.Failed;
        if (value is not { } v || rule.IsBreachedBy(v))
            return ChecklistState.Warning;
        return ChecklistState.Done;
    }

    // Several rules may watch one metric: the field shows the worst. The enum's order is not severity, hence the ranking.
    private static ChecklistState Worst(IEnumerable<ChecklistState> states) =>
        states.MaxBy(s => s switch { ChecklistState.Failed => 2, ChecklistState.Warning => 1, _ => 0 });

    private static string Status(StatusSnapshot snapshot, List<(string Label, ChecklistState State)> marks, MetricSample? sample)
    {
        var stage = snapshot.Stage switch
        {
            StatusStage.Running => "▶️ RUNNING",
            StatusStage.Paused => "⏸️ PAUSED",
            _ => "👀 POST-DEPLOYMENT MONITORING",
        };
        if (snapshot.Breaching.Count > 0)
            return $"{stage} · ❌ breached: {string.Join(", ", snapshot.Breaching.Select(b => b.Rule.Name))}";
        if (sample is null)
            return $"{stage} · ⚠️ {NoSample(snapshot)}";
        // Only a server limit can be over without a breach: a rule's field is ❌ only when it is breaching (said above).
        var over = marks.Where(m => m.State == ChecklistState.Failed).Select(m => m.Label).ToList();
        if (over.Count > 0)
            return $"{stage} · ❌ over the limit: {string.Join(", ", over)}";
        var watch = marks.Where(m => m.State == ChecklistState.Warning).Select(m => m.Label).ToList();
        return watch.Count > 0 ? $"{stage} · ⚠️ watch: {string.Join(", ", watch)}" : $"{stage} · all within limits ✅";
    }

    private static string PhaseLine(StatusSnapshot s)
    {
        if (s.Stage == StatusStage.PostDeploymentMonitoring)
        {
            if (s.MonitoringStartedAt is not { } start || s.MonitoringEndsAt is not { } end)
                return "post-deployment monitoring";
            return $"post-deployment monitoring · {Durations.Short(s.Now - start)} of {ReportText.Span(end - start)} (until {ReportText.Clock(end)})";
        }
        var phase = s.Phase?.Title() ?? "starting";
        return s.StatementsTotal > 0 ? $"{phase} · step {s.StatementsCompleted}/{s.StatementsTotal}" : phase;
    }

    /// <summary>What a field shows instead of a value when there is no current sample.</summary>
    private static string NoSample(StatusSnapshot s) =>
        s.LatestSample is { } last ? $"no sample since {ReportText.ClockSeconds(last.At)}" : "no sample yet";

    private static string Sampling(StatusSnapshot s)
    {
        var text = NoSample(s);
        if (s.LatestGap is { } gap && (s.LatestSample is null || gap.At > s.LatestSample.At))
            text += $"; the attempt at {ReportText.ClockSeconds(gap.At)} failed: {gap.Error}";
        return text;
    }

    private static string IndexBuilds(MetricSample sample) =>
        sample.IndexBuilds.Count == 0
            ? "none"
            : string.Join("; ", sample.IndexBuilds.Select(b =>
                $"{b.Index} on {b.Table}: {b.Phase}" + (b.PercentOfPhase is { } p ? $" {p.ToString("0", CultureInfo.InvariantCulture)} %" : "")));

    private static string Blocked(MetricSample sample) =>
        sample.BlockedApp == 0 ? "0" : $"{sample.BlockedApp} ({sample.BlockedByMigration} by the migration)";

    private static string Connections(MetricSample sample) =>
        sample.MaxConnections > 0
            ? $"{sample.Connections}/{sample.MaxConnections} ({(100.0 * sample.Connections / sample.MaxConnections).ToString("0", CultureInfo.InvariantCulture)} %)"
            : sample.Connections.ToString(CultureInfo.InvariantCulture);

    private static string Next(StatusSnapshot s)
    {
        var nextStatus = s.NextStatusAt is { } at ? $", next status {ReportText.Clock(at)}" : "";
        var id = s.Deployment;
        return s.Stage switch
        {
            StatusStage.Paused => $"paused: /migrate resume {id} to continue, /migrate rollback {id} to roll back{nextStatus}",
            StatusStage.Running => $"{AfterPhase(s)}{nextStatus} · /migrate pause {id} | /migrate rollback {id}",
            _ => (s.MonitoringEndsAt is { } end ? $"post-deployment monitoring until {ReportText.Clock(end)}" : "post-deployment monitoring")
                 + (s.NextStatusAt is null ? ", then the performance report" : nextStatus)
                 + $" · /migrate rollback {id}",
        };
    }

    private static string AfterPhase(StatusSnapshot s) => s.Phase switch
    {
        RunbookPhase.PreDeployment => "phase 1 baseline after the pre-deployment checks",
        RunbookPhase.Baseline => "phase 2 migration after the baseline",
        RunbookPhase.Migration => s.StatementsTotal > s.StatementsCompleted
            ? $"phase 3 after the migration's statements ({s.StatementsTotal - s.StatementsCompleted} to go)"
            : "phase 3 after the migration's statements",
        RunbookPhase.IndexBuilds => "phase 4 validation after the index builds",
        RunbookPhase.Validation => "the verdict after validation, then post-deployment monitoring",
        RunbookPhase.Verdict => "post-deployment monitoring after the verdict",
        _ => "the runbook's first phase",
    };
}
