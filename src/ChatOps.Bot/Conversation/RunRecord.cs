using System.Text.Json;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// What a deployment's run and its monitoring produced that the status posts and the final report show: the monitoring summary
/// (samples, peaks, breaches), the statements done, the phases' durations, the lock holds, the benchmarks before and after. Kept
/// as JSON in the state database after each change, so a replica taking the deployment over goes on from it.
/// </summary>
public sealed class RunRecord
{
    [System.Text.Json.Serialization.JsonIgnore]
    public MonitoringSummary Monitoring { get; set; } = new();
    /// <summary>The numbers of the statements done (completed now, or found done by a resumed run): a set, so a resume counts none twice.</summary>
    public SortedSet<int> StatementsDone { get; set; } = [];

    [System.Text.Json.Serialization.JsonIgnore]
    public int StatementsCompleted => StatementsDone.Count;
    public int StatementsTotal { get; set; }
    public Dictionary<string, TimeSpan> PhaseDurations { get; set; } = [];

    /// <summary>ACCESS EXCLUSIVE holds by statement ("#3 line 12"), as the executor measured them on the server.</summary>
    public Dictionary<string, TimeSpan> LockHolds { get; set; } = [];
    public Dictionary<string, double> BaselineMs { get; set; } = [];
    public Dictionary<string, double> AfterMs { get; set; } = [];

    /// <summary>Whether the degradation judge counted each query as regressed in the last round (noise and less work are not).</summary>
    public Dictionary<string, bool> Regressed { get; set; } = [];
    public double? RlsBeforeMs { get; set; }
    public double? RlsAfterMs { get; set; }
    /// <summary>
    /// The target's rollback ratio before the migration (phase 1, from the run's checkpoint): what the error-rate trigger compares with,
    /// during the run and during post-deployment monitoring.
    /// </summary>
    public double? RollbackRatioBaselinePercent { get; set; }

    public double? IndexUsagePercent { get; set; }
    public string? IndexUsageDetail { get; set; }

    /// <summary>Takes what it keeps from one runbook event (samples and threshold events go to <see cref="Monitoring"/>).</summary>
    public void Observe(RunbookEvent e)
    {
        switch (e)
        {
            case Sampled s:
                Monitoring.Observe(s.Reading);
                break;
            case ThresholdReported t:
                Monitoring.Observe(t.Threshold);
                break;
            case PhaseFinished p:
                PhaseDurations[p.Phase.ToString()] = p.Duration;
                break;
            case CheckpointReached c:
                RollbackRatioBaselinePercent = c.Checkpoint.RollbackBaselinePercent;
                break;
            case ExecutionReported { Execution: StatementFinished f }:
                StatementsDone.Add(f.Statement.Number);
                if (f.LockHeld > TimeSpan.Zero)
                    LockHolds[$"#{f.Statement.Number} line {f.Statement.Line}"] = f.LockHeld;
                break;
            case ExecutionReported { Execution: StatementSkipped k }:
                StatementsDone.Add(k.Statement.Number);
                break;
            case Measured { Value: var v } m when !double.IsNaN(v):
                if (m.Name.StartsWith("baseline: ", StringComparison.Ordinal))
                    BaselineMs[m.Name["baseline: ".Length..]] = v;
                else if (m.Name.StartsWith("after: ", StringComparison.Ordinal))
                {
                    // The detail is the judge's reason for the last round: "REGRESSED: …" or why it is not.
                    AfterMs[m.Name["after: ".Length..]] = v;
                    Regressed[m.Name["after: ".Length..]] = m.Detail.StartsWith("REGRESSED", StringComparison.Ordinal);
                }
                else if (m.Name.StartsWith("benchmark round ", StringComparison.Ordinal))
                    Monitoring.Measured(Metric.QueryDegradationPercent, v);
                else if (m.Name.StartsWith("RLS overhead", StringComparison.Ordinal))
                {
                    if (m.Phase == RunbookPhase.Baseline)
                        RlsBeforeMs = v;
                    else
                    {
                        RlsAfterMs = v;
                        Monitoring.Measured(Metric.RlsOverheadMs, v);
                    }
                }
                else if (m.Name == "index usage")
                    (IndexUsagePercent, IndexUsageDetail) = (v, m.Detail);
                break;
        }
    }

    private static readonly JsonSerializerOptions Json = new() { IncludeFields = false };

    public string ToJson() => JsonSerializer.Serialize(new Stored(Monitoring.ToJson(), this), Json);

    public static RunRecord FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json))
            return new RunRecord();
        var stored = JsonSerializer.Deserialize<Stored>(json, Json) ?? throw new JsonException("an empty run record");
        var record = stored.Run ?? new RunRecord();
        record.Monitoring = MonitoringSummary.FromJson(stored.Monitoring);
        return record;
    }

    // The summary keeps its own JSON form (its records carry rules, samples and breaches); the rest is plain.
    private sealed record Stored(string Monitoring, RunRecord? Run);
}
