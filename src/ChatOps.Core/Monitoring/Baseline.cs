namespace ChatOps.Core.Monitoring;

/// <summary>One round of the runbook's benchmark queries, with the control query measured between them.</summary>
public sealed record BenchmarkRound(IReadOnlyList<QueryMeasurement> Queries, QueryMeasurement Control);

/// <summary>
/// RLS overhead: the probe query as the application role minus the same as the table owner (who bypasses RLS),
/// run alternately; <see cref="PairedOverheadMs"/> is the median of the paired differences (drift lands on both
/// sides alike). <see cref="Control"/> was measured between the pairs, to discount a busy CPU.
/// </summary>
public sealed record RlsOverhead(QueryMeasurement AsRole, QueryMeasurement AsOwner, QueryMeasurement Control, double PairedOverheadMs)
{
    public int Runs => AsRole.TimesMs.Count;

    /// <summary>The overhead with the machine's slow-down since <paramref name="baselineControl"/> discounted; never negative.</summary>
    public double OverheadMs(QueryMeasurement? baselineControl) =>
        Math.Max(0, PairedOverheadMs) / (baselineControl is null ? 1 : DegradationJudge.ControlRatio(baselineControl, Control));
}
