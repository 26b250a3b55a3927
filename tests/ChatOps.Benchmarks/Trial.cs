namespace ChatOps.Benchmarks;

/// <summary>Latency percentiles of a set of application transactions, in ms.</summary>
public sealed record Latency(int Count, double P50, double P95, double P99, double Max)
{
    public static Latency Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return new Latency(0, double.NaN, double.NaN, double.NaN, double.NaN);
        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new Latency(sorted.Length, At(0.50), At(0.95), At(0.99), sorted[^1]);
    }
}

/// <summary>One contender's migration and rollback on one table size.</summary>
public sealed record Trial(
    int Rows,
    string Contender,
    int Repetition,
    double MigrationSeconds,
    Latency Baseline,
    Latency During,
    Latency DuringDdl,
    Latency DuringBuilds,
    long Failed,
    int PeakBlocked,
    double? LongestExclusiveHoldReportedMs,
    double LongestExclusiveHoldObservedMs,
    IReadOnlyList<double> IndexBuildsMs,
    double RollbackSeconds,
    string? Error,
    IReadOnlyList<ScriptLatency> ByScript,
    (double Slow, double Chance, int Count)? KernelSampler);

/// <summary>One pgbench script's latency in the baseline window and during the DDL steps.</summary>
public sealed record ScriptLatency(string Script, Latency Baseline, Latency DuringDdl)
{
    public override string ToString() => $"{Script} {DuringDdl.P99:0.0} ({Baseline.P99:0.0})";
}

/// <summary>A statement's span on the wall clock (Unix seconds), and whether it was a concurrent index build.</summary>
public readonly record struct StatementSpan(double Start, double End, bool IndexBuild, string Text);
