using System.Text.Json;
using System.Text.Json.Serialization;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;

namespace ChatOps.Bot.Cli;

/// <summary>Renders a runbook run's events for people (a timeline) or machines (JSON lines).</summary>
public sealed class RunbookTimeline(TextWriter output, TimeProvider timeProvider, bool json)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly Timeline _statements = new(output, timeProvider);

    public void Render(RunbookEvent e)
    {
        // A checkpoint is for a caller that stores it to resume from (the bot); the command line resumes from the target's journal. A
        // phase being due is for a caller that may hold the run there (the bot, at the maintenance window's end); the next line is its start.
        if (e is CheckpointReached or PhaseDue)
            return;
        if (json)
        {
            // One line per event: {"type":"PhaseStarted","event":{…}}
            object body = e switch
            {
                ExecutionReported r => r.Execution,
                // The decision is a closed hierarchy: its name and text, not an empty abstract object.
                HistoryConsulted h => new { at = h.At, last = h.Last, decision = h.Decision.Name, detail = h.Decision.Describe() },
                _ => e,
            };
            output.WriteLine(JsonSerializer.Serialize(new { type = e is ExecutionReported x ? x.Execution.GetType().Name : e.GetType().Name,
                @event = body }, JsonOptions));
            return;
        }
        switch (e)
        {
            case HistoryConsulted h:
                output.WriteLine($"   📜 history: {h.Decision.Describe()}");
                break;
            case PhaseStarted p:
                output.WriteLine();
                output.WriteLine($"── {p.Phase.Title()} ──");
                break;
            case PhaseFinished p:
                output.WriteLine($"   {(p.Ok ? "✓" : "✗")} {p.Phase.Title()} in {Durations.Short(p.Duration)}: {p.Summary}");
                break;
            case CheckCompleted c:
                var mark = c.Check.Status switch { CheckStatus.Pass => "✅", CheckStatus.Warn => "⚠️", CheckStatus.Fail => "❌", _ => "☐" };
                output.WriteLine($"   {mark} {c.Check.Name}: {c.Check.Detail}{(c.Check.Role is { } role ? $"   ({role.Title()})" : "")}");
                break;
            case Measured m:
                var value = double.IsNaN(m.Value) ? "n/a" : $"{m.Value:0.###} {m.Unit}";
                output.WriteLine($"   📏 {m.Name}: {value}{(m.Detail.Length > 0 ? $"  ({m.Detail})" : "")}");
                break;
            case Sampled { Reading: MetricSample s }:
                var builds = s.IndexBuilds.Count == 0 ? "" : " · " + string.Join(", ", s.IndexBuilds.Select(b => $"{b.Index}: {b.Phase}{(b.PercentOfPhase is { } pct ? $" {pct:0} %" : "")}"));
                var own = s.ExecutorLockWait > TimeSpan.Zero ? $" · migration waiting {Durations.Short(s.ExecutorLockWait)} ({s.ExecutorWaitEvent}" +
                    (s.ExecutorWaitsFor.Count > 0 ? $" — for {string.Join("; ", s.ExecutorWaitsFor.Select(b => b.Describe()))}" : "") + ")" : "";
                output.WriteLine($"   · sample of {s.Database}: app lock wait {s.LongestAppLockWait.TotalMilliseconds:0} ms · blocked {s.BlockedApp} ({s.BlockedByMigration} by the migration) · " +
                                 $"connections {s.Connections} (server max {s.MaxConnections}) · {s.Commits} commits, {s.Rollbacks} rollbacks{own}{builds}");
                break;
            case Sampled { Reading: SampleGap g }:
                output.WriteLine($"   · sample failed (a gap, not zeros): {g.Error}");
                break;
            case ThresholdReported { Threshold: ThresholdBreached b }:
                output.WriteLine($"   🚨 {(b.Rule.Action == BreachAction.RollbackTrigger ? "rollback trigger" : "alert")}: {b.Rule.Describe()} — readings {string.Join(" → ", b.Readings.TakeLast(5).Select(v => v.ToString("0.##")))}");
                break;
            case ThresholdReported { Threshold: ThresholdCleared c }:
                output.WriteLine($"   ✅ cleared: {c.Rule.Describe()} (now {c.Value:0.##})");
                break;
            case ThresholdReported { Threshold: MonitoringDegraded d }:
                output.WriteLine($"   ⚠️ monitoring degraded: no sample for {Durations.Short(d.Gap)} ({d.Reason})");
                break;
            case ExecutionReported x:
                _statements.Render(x.Execution);
                break;
            case VerdictReached v:
                foreach (var c in v.Criteria)
                {
                    var verdict = c is { NotMeasured: true, Passed: true } ? "➖" : c.Passed ? "✅" : "❌";
                    output.WriteLine($"   {verdict} {c.Criterion.Describe()}: {(c.Measured is { } m ? $"{m:0.##}{c.Criterion.Unit}" : "not measured")}  ({c.Detail})");
                }
                output.WriteLine(v.Succeeded ? "   🟢 VERDICT: SUCCESS" : "   🔴 VERDICT: FAILED");
                foreach (var reason in v.Reasons)
                    output.WriteLine($"      - {reason}");
                break;
        }
    }
}
