using System.Text.Json;
using System.Text.Json.Serialization;
using ChatOps.Core.Conversation;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Reporting;

/// <summary>How a breach ended.</summary>
public enum BreachEnd
{
    /// <summary>Not ended: the rule still holds.</summary>
    StillBreaching,
    /// <summary>A reading recovered.</summary>
    Cleared,
    /// <summary>The deployment was rolled back while it held.</summary>
    RolledBack,
}

/// <summary>One breach and how it ended.</summary>
/// <param name="DuringMonitoring">True when it fired during post-deployment monitoring, false during the run.</param>
/// <param name="EndedAt">When it cleared or was rolled back; null while it holds.</param>
/// <param name="EndValue">The reading that cleared it; null otherwise.</param>
public sealed record BreachRecord(ThresholdBreached Breach, bool DuringMonitoring, BreachEnd End = BreachEnd.StillBreaching,
    DateTimeOffset? EndedAt = null, double? EndValue = null)
{
    /// <summary>The worst reading of its window (the highest for a "greater than" rule, the lowest for "less than").</summary>
    [JsonIgnore]
    public double Worst => Breach.Readings.Count == 0 ? Breach.Value
        : Breach.Rule.Op == Comparison.GreaterThan ? Breach.Readings.Max() : Breach.Readings.Min();
}

/// <summary>
/// What the application felt over a period (the run, or post-deployment monitoring), from its metric samples.
/// <see cref="Samples"/> zero means nothing was seen: the peaks are then unknown, not zero.
/// </summary>
/// <param name="Gaps">Samples that failed.</param>
/// <param name="PeakBlockedByMigration">The most application sessions blocked by the migration in one sample (what the rollback trigger watches).</param>
/// <param name="PeakBlockedApp">The most application sessions blocked in one sample, by anything.</param>
/// <param name="PeakReplicationLag">Null when no sample saw a replica.</param>
public sealed record ApplicationPeaks(int Samples, int Gaps, int PeakBlockedByMigration, int PeakBlockedApp, TimeSpan LongestAppLockWait,
    int PeakConnections, TimeSpan? PeakReplicationLag)
{
    /// <summary>Nothing observed yet.</summary>
    public static ApplicationPeaks None { get; } = new(0, 0, 0, 0, TimeSpan.Zero, 0, null);

    internal ApplicationPeaks With(MetricSample s) => new(
        Samples + 1,
        Gaps,
        Math.Max(PeakBlockedByMigration, s.BlockedByMigration),
        Math.Max(PeakBlockedApp, s.BlockedApp),
        s.LongestAppLockWait > LongestAppLockWait ? s.LongestAppLockWait : LongestAppLockWait,
        Math.Max(PeakConnections, s.Connections),
        s.ReplicationLag is { } lag && (PeakReplicationLag is null || lag > PeakReplicationLag) ? lag : PeakReplicationLag);

    internal ApplicationPeaks WithGap() => this with { Gaps = Gaps + 1 };
}

/// <summary>
/// What the status posts and the performance report need from a deployment's monitoring, kept as it happens: the bot forwards
/// every <see cref="MonitoringReading"/>, <see cref="ThresholdEvent"/> and benchmark/RLS measurement to it. Serializable
/// (<see cref="ToJson"/>, <see cref="FromJson"/>): the bot stores it with the deployment so another replica can take over.
/// </summary>
public sealed class MonitoringSummary
{
    private List<BreachRecord> _breaches = [];
    private List<MonitoringDegraded> _degradations = [];

    /// <summary>The newest sample.</summary>
    [JsonInclude]
    public MetricSample? LatestSample { get; private set; }

    /// <summary>The newest failed sample.</summary>
    [JsonInclude]
    public SampleGap? LatestGap { get; private set; }

    /// <summary>The latest benchmark round against the baseline, in percent (positive is slower).</summary>
    [JsonInclude]
    public double? LatestBenchmarkDeltaPercent { get; private set; }

    /// <summary>The latest RLS overhead probe, in ms.</summary>
    [JsonInclude]
    public double? LatestRlsOverheadMs { get; private set; }

    /// <summary>When post-deployment monitoring started; null during the run.</summary>
    [JsonInclude]
    public DateTimeOffset? MonitoringStartedAt { get; private set; }

    /// <summary>What the application felt during the run (readings before <see cref="MonitoringStartedAt"/>).</summary>
    [JsonInclude]
    public ApplicationPeaks DuringRun { get; private set; } = ApplicationPeaks.None;

    /// <summary>What the application felt during post-deployment monitoring.</summary>
    [JsonInclude]
    public ApplicationPeaks DuringMonitoring { get; private set; } = ApplicationPeaks.None;

    /// <summary>Every breach, oldest first, with how it ended.</summary>
    [JsonInclude]
    public IReadOnlyList<BreachRecord> Breaches
    {
        get => _breaches;
        private set => _breaches = [.. value];
    }

    /// <summary>Every time monitoring degraded (no samples for too long), oldest first.</summary>
    [JsonInclude]
    public IReadOnlyList<MonitoringDegraded> Degradations
    {
        get => _degradations;
        private set => _degradations = [.. value];
    }

    /// <summary>The breaches that hold now, by rule name.</summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, ThresholdBreached> ActiveBreaches =>
        _breaches.Where(b => b.End == BreachEnd.StillBreaching).ToDictionary(b => b.Breach.Rule.Name, b => b.Breach);

    /// <summary>A sample or a failed sample. Counts towards the period it falls in; the newest is kept.</summary>
    public void Observe(MonitoringReading reading)
    {
        var monitoring = InMonitoring(reading.At);
        switch (reading)
        {
            case MetricSample sample:
                if (monitoring) DuringMonitoring = DuringMonitoring.With(sample);
                else DuringRun = DuringRun.With(sample);
                // Readings may arrive out of order after a takeover: the newest stays the latest.
                if (LatestSample is null || sample.At >= LatestSample.At)
                    LatestSample = sample;
                break;
            case SampleGap gap:
                if (monitoring) DuringMonitoring = DuringMonitoring.WithGap();
                else DuringRun = DuringRun.WithGap();
                if (LatestGap is null || gap.At >= LatestGap.At)
                    LatestGap = gap;
                break;
        }
    }

    /// <summary>
    /// What the threshold monitor concluded. A breach of a rule already breached is not recorded twice (a replica taking over
    /// starts a new monitor, which fires again for a rule that still holds); a clear ends the rule's open breach.
    /// </summary>
    public void Observe(ThresholdEvent thresholdEvent)
    {
        switch (thresholdEvent)
        {
            case ThresholdBreached breached:
                if (!ActiveBreaches.ContainsKey(breached.Rule.Name))
                    _breaches.Add(new BreachRecord(breached, InMonitoring(breached.At)));
                break;
            case ThresholdCleared cleared:
                var open = _breaches.FindIndex(b => b.End == BreachEnd.StillBreaching && b.Breach.Rule.Name == cleared.Rule.Name);
                if (open >= 0)
                    _breaches[open] = _breaches[open] with { End = BreachEnd.Cleared, EndedAt = cleared.At, EndValue = cleared.Value };
                break;
            case MonitoringDegraded degraded:
                _degradations.Add(degraded);
                break;
        }
    }

    /// <summary>A benchmark round (<see cref="Metric.QueryDegradationPercent"/>) or an RLS probe (<see cref="Metric.RlsOverheadMs"/>); other metrics are ignored.</summary>
    public void Measured(Metric metric, double value)
    {
        if (metric == Metric.QueryDegradationPercent)
            LatestBenchmarkDeltaPercent = value;
        else if (metric == Metric.RlsOverheadMs)
            LatestRlsOverheadMs = value;
    }

    /// <summary>Phase 4 is over: readings from <paramref name="at"/> on count towards <see cref="DuringMonitoring"/>.</summary>
    public void MonitoringStarted(DateTimeOffset at) => MonitoringStartedAt ??= at;

    /// <summary>The deployment was rolled back: every breach still holding ended that way.</summary>
    public void RolledBack(DateTimeOffset at)
    {
        for (var i = 0; i < _breaches.Count; i++)
            if (_breaches[i].End == BreachEnd.StillBreaching)
                _breaches[i] = _breaches[i] with { End = BreachEnd.RolledBack, EndedAt = at };
    }

    /// <summary>
    /// The status post's data at <paramref name="now"/>, the moment it is posted: the next post is due by <paramref name="cadence"/>
    /// from now, and during post-deployment monitoring it ends at <see cref="StatusCadence.ReportDue"/>.
    /// </summary>
    public StatusSnapshot Status(DeploymentId deployment, string migration, StatusStage stage, RunbookPhase? phase, int statementsCompleted,
        int statementsTotal, DateTimeOffset startedAt, DateTimeOffset now, IReadOnlyList<ThresholdRule> rules, StatusCadence cadence)
    {
        var monitoring = stage == StatusStage.PostDeploymentMonitoring;
        if (monitoring && MonitoringStartedAt is null)
            throw new InvalidOperationException("post-deployment monitoring has not started: call MonitoringStarted first");
        return new StatusSnapshot(deployment, migration, stage, phase, statementsCompleted, statementsTotal, startedAt, now, LatestSample, LatestGap,
            LatestBenchmarkDeltaPercent, LatestRlsOverheadMs, rules, [.. ActiveBreaches.Values])
        {
            MonitoringStartedAt = monitoring ? MonitoringStartedAt : null,
            MonitoringEndsAt = monitoring ? cadence.ReportDue(MonitoringStartedAt!.Value) : null,
            NextStatusAt = cadence.NextDue(stage, now, MonitoringStartedAt),
        };
    }

    // Enums as names: the stored JSON outlives a release that reorders an enum, and a person reading the jsonb sees words.
    // Named floating-point literals: a NaN reading must not make the state impossible to store.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The summary as JSON, for the state database's jsonb column.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>A summary stored by <see cref="ToJson"/>.</summary>
    /// <exception cref="JsonException">The text is not a stored summary.</exception>
    public static MonitoringSummary FromJson(string json) =>
        JsonSerializer.Deserialize<MonitoringSummary>(json, Json) ?? throw new JsonException("a stored monitoring summary is an object, not null");

    private bool InMonitoring(DateTimeOffset at) => MonitoringStartedAt is { } start && at >= start;
}
