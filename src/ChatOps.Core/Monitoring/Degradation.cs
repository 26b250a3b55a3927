using System.Globalization;

namespace ChatOps.Core.Monitoring;

/// <summary>
/// One query measured several times with <c>EXPLAIN (ANALYZE, BUFFERS)</c>: the server's execution time of each
/// run, the buffers it touched (median) and its plan's shape. Time moves with a busy CPU; plan and buffers do not.
/// </summary>
/// <param name="Plan">The plan tree as node types with their relations and indexes, e.g. "Limit(Index Scan[contacts/idx_a])".</param>
/// <param name="AccessPaths">The plan's scans, e.g. "Index Scan using idx_a on contacts", for people.</param>
public sealed record QueryMeasurement(string Name, IReadOnlyList<double> TimesMs, long Buffers, string Plan, IReadOnlyList<string> AccessPaths)
{
    public double MedianMs => Stats.Median(TimesMs);

    /// <summary>The top of this measurement's own noise: its slowest run, or with five runs or more the second slowest
    /// (one stray run must not hide a regression).</summary>
    public double MaxMs => TimesMs.Count == 0 ? 0 : TimesMs.Count >= 5 ? TimesMs.OrderDescending().ElementAt(1) : TimesMs.Max();

    /// <summary>The fastest run: the closest this measurement came to the query's own cost (a busy machine only ever adds time).</summary>
    public double MinMs => TimesMs.Count == 0 ? 0 : TimesMs.Min();
}

/// <summary>How one benchmark query compares with its baseline, and why it counted (or not) as degradation.</summary>
/// <param name="CountedMs">The time this query contributes to the round's figure: the baseline's median unless it regressed.</param>
public sealed record QueryJudgement(string Name, double BeforeMs, double AfterMs, double CountedMs, bool Regressed, string Why);

/// <summary>One benchmark round against the baseline: the degradation in percent (what the trigger and the criterion see) and each query's reason.</summary>
public sealed record DegradationReading(double Percent, double ControlRatio, IReadOnlyList<QueryJudgement> Queries)
{
    public double BeforeMs => Queries.Sum(q => q.BeforeMs);
    public double CountedMs => Queries.Sum(q => q.CountedMs);
}

/// <summary>
/// Tells a regression from noise. A query has regressed only when its <b>work</b> changed — another plan that touches
/// no fewer buffers, or more buffers than its baseline (beyond <see cref="BufferTolerance"/>) — <b>and</b> its time rose beyond the
/// noise: its median above the baseline's slowest run and by more than <see cref="AbsoluteFloorMs"/>, <b>and</b> its
/// fastest run above the baseline's fastest by more than <see cref="AbsoluteFloorMs"/> too, after discounting the
/// slow-down a control query measured in the same round shows (the migration cannot affect it, so its slow-down
/// is the machine's). A busy machine adds time to some runs; more work adds it to every run, the fastest included —
/// so a burst of contention during one round's runs does not pass for a regression. A query whose plan and buffers
/// are unchanged has not regressed, whatever its time did.
/// </summary>
public static class DegradationJudge
{
    /// <summary>Buffers may grow this much (relative) before the work counts as changed: live inserts and hint bits move them a little.</summary>
    public const double BufferTolerance = 0.2;

    /// <summary>… and at least this many buffers (tiny queries touch a handful).</summary>
    public const long BufferSlack = 8;

    /// <summary>A query's time must rise by more than this (ms) to count: below it, EXPLAIN ANALYZE cannot tell.</summary>
    public const double AbsoluteFloorMs = 0.05;

    /// <summary>Judges one round: each query present at baseline against its baseline, the control's slow-down discounted.</summary>
    public static DegradationReading Judge(IReadOnlyList<QueryMeasurement> baseline, QueryMeasurement baselineControl,
        IReadOnlyList<QueryMeasurement> after, QueryMeasurement afterControl)
    {
        var control = ControlRatio(baselineControl, afterControl);
        var judgements = new List<QueryJudgement>();
        foreach (var a in after)
        {
            if (baseline.FirstOrDefault(b => b.Name == a.Name) is not { } b)
                continue;
            judgements.Add(JudgeQuery(b, a, control));
        }
        var before = judgements.Sum(j => j.BeforeMs);
        var counted = judgements.Sum(j => j.CountedMs);
        var percent = before <= 0 ? 0 : 100 * (counted - before) / before;
        return new DegradationReading(percent, control, judgements);
    }

    /// <summary>How much slower the control query ran now than at baseline; never below 1 (a faster machine must not make a query look slower).</summary>
    public static double ControlRatio(QueryMeasurement baselineControl, QueryMeasurement afterControl) =>
        baselineControl.MedianMs <= 0 ? 1 : Math.Max(1, afterControl.MedianMs / baselineControl.MedianMs);

    /// <summary>Judges one query against its baseline, <paramref name="controlRatio"/> being the machine's slow-down (≥ 1).</summary>
    public static QueryJudgement JudgeQuery(QueryMeasurement before, QueryMeasurement after, double controlRatio)
    {
        var planChanged = before.Plan != after.Plan;
        var buffersGrew = after.Buffers > before.Buffers * (1 + BufferTolerance) + BufferSlack;
        // A new plan that touches fewer buffers does less work: a plan flip after ANALYZE is not a regression by itself.
        var lessWork = planChanged && after.Buffers < before.Buffers;
        var corrected = after.MedianMs / controlRatio;
        var fastestRose = after.MinMs / controlRatio - before.MinMs > AbsoluteFloorMs;
        var timeRose = corrected > before.MaxMs && corrected - before.MedianMs > AbsoluteFloorMs && fastestRose;
        var time = $"time {Ms(before.MedianMs)} → {Ms(after.MedianMs)} ms ({Percent(before.MedianMs, after.MedianMs)}, control {Percent(1, controlRatio)}; " +
                   $"fastest {Ms(before.MinMs)} → {Ms(after.MinMs)} ms)";
        var buffers = $"buffers {before.Buffers:N0} → {after.Buffers:N0}";
        var plan = planChanged ? $"plan changed: {Paths(before)} became {Paths(after)}" : "plan unchanged";

        if (!planChanged && !buffersGrew)
            return new(after.Name, before.MedianMs, after.MedianMs, before.MedianMs, false, $"{plan}, {buffers}, {time}: same work, not a regression");
        if (lessWork)
            return new(after.Name, before.MedianMs, after.MedianMs, before.MedianMs, false, $"{plan}, {buffers}, {time}: less work, not a regression");
        if (!timeRose)
            return new(after.Name, before.MedianMs, after.MedianMs, before.MedianMs, false, $"{plan}, {buffers}, {time}: within noise");
        return new(after.Name, before.MedianMs, after.MedianMs, Math.Max(before.MedianMs, corrected), true, $"REGRESSED: {plan}, {buffers}, {time}");
    }

    private static string Paths(QueryMeasurement m) => m.AccessPaths.Count == 0 ? "(no scan)" : string.Join(" + ", m.AccessPaths);

    private static string Ms(double value) => value.ToString(value < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture);

    private static string Percent(double before, double after) =>
        before <= 0 ? "n/a" : (100 * (after - before) / before).ToString("+0;-0;0", CultureInfo.InvariantCulture) + " %";
}

/// <summary>Small statistics shared by the probes and judges.</summary>
public static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
