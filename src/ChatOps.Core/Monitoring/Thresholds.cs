namespace ChatOps.Core.Monitoring;

/// <summary>What a threshold watches.</summary>
public enum Metric
{
    /// <summary>The longest current lock wait of an application session, in ms.</summary>
    AppLockWaitMs,
    /// <summary>Application sessions currently blocked.</summary>
    BlockedAppSessions,
    /// <summary>Benchmark queries vs. baseline, in percent (positive is slower).</summary>
    QueryDegradationPercent,
    /// <summary>Rollback ratio minus the baseline's, in percentage points.</summary>
    RollbackRatioIncreasePoints,
    /// <summary>Row-level security overhead per query, in ms.</summary>
    RlsOverheadMs,
}

public enum Comparison
{
    GreaterThan,
    LessThan,
}

/// <summary>What a breach means.</summary>
public enum BreachAction
{
    /// <summary>The checklist's "immediate rollback trigger": the bot proposes (and by default performs) a rollback.</summary>
    RollbackTrigger,
    /// <summary>Tell people; nothing happens by itself.</summary>
    Alert,
}

/// <summary>
/// <c>metric op value for window → action</c>. The window is a duration (<see cref="For"/>) for sampled
/// metrics, or a number of consecutive readings (<see cref="Rounds"/>) for benchmark rounds and probes.
/// </summary>
public sealed record ThresholdRule(string Name, Metric Metric, Comparison Op, double Value, TimeSpan? For, int? Rounds, BreachAction Action)
{
    public bool IsBreachedBy(double value) => Op == Comparison.GreaterThan ? value > Value : value < Value;

    /// <summary>
    /// The rule as watched after the deployment (<see cref="ThresholdMonitor.AfterDeployment"/>): <see cref="Metric.BlockedAppSessions"/>
    /// then counts every blocked application session, and what the rule says (<see cref="Describe"/>, <see cref="MetricLabel"/>) says so.
    /// </summary>
    public bool CountsEveryBlockedSession { get; init; }

    /// <summary>"application sessions blocked by the migration > 5 for 30 s"; after the deployment "blocked application sessions > 5 for 30 s".</summary>
    public string Describe() =>
        $"{MetricLabel} {(Op == Comparison.GreaterThan ? ">" : "<")} {Value}{Unit(Metric)} " +
        (For is { } f ? $"for {Execution.Durations.Short(f)}" : $"for {Rounds} consecutive readings");

    /// <summary>What the rule watches, in words, as it counts it.</summary>
    public string MetricLabel => Metric == Metric.BlockedAppSessions && CountsEveryBlockedSession ? "blocked application sessions" : Label(Metric);

    public static string Label(Metric metric) => metric switch
    {
        Metric.AppLockWaitMs => "application lock wait",
        Metric.BlockedAppSessions => "application sessions blocked by the migration",
        Metric.QueryDegradationPercent => "query degradation",
        Metric.RollbackRatioIncreasePoints => "rollback-ratio increase",
        _ => "RLS overhead",
    };

    public static string Unit(Metric metric) => metric switch
    {
        Metric.AppLockWaitMs or Metric.RlsOverheadMs => " ms",
        Metric.QueryDegradationPercent => " %",
        Metric.RollbackRatioIncreasePoints => " pts",
        _ => "",
    };

    /// <summary>The checklist's immediate rollback triggers.</summary>
    public static IReadOnlyList<ThresholdRule> ChecklistRollbackTriggers { get; } =
    [
        new("app-lock-wait", Metric.AppLockWaitMs, Comparison.GreaterThan, 1000, TimeSpan.FromSeconds(60), null, BreachAction.RollbackTrigger),
        new("blocked-sessions", Metric.BlockedAppSessions, Comparison.GreaterThan, 5, TimeSpan.FromSeconds(30), null, BreachAction.RollbackTrigger),
        new("query-degradation", Metric.QueryDegradationPercent, Comparison.GreaterThan, 10, null, 3, BreachAction.RollbackTrigger),
        new("error-rate", Metric.RollbackRatioIncreasePoints, Comparison.GreaterThan, 5, TimeSpan.FromMinutes(2), null, BreachAction.RollbackTrigger),
        new("rls-overhead", Metric.RlsOverheadMs, Comparison.GreaterThan, 5, null, 3, BreachAction.RollbackTrigger),
    ];
}

/// <summary>What the threshold monitor concluded from a reading.</summary>
public abstract record ThresholdEvent(DateTimeOffset At);

/// <summary>A rule has held for its whole window. Fires once, until it clears.</summary>
public sealed record ThresholdBreached(DateTimeOffset At, ThresholdRule Rule, double Value, DateTimeOffset Since, IReadOnlyList<double> Readings) : ThresholdEvent(At);

public sealed record ThresholdCleared(DateTimeOffset At, ThresholdRule Rule, double Value) : ThresholdEvent(At);

/// <summary>No sample for longer than three intervals: the rules cannot see, which is not the same as healthy.</summary>
public sealed record MonitoringDegraded(DateTimeOffset At, TimeSpan Gap, string Reason) : ThresholdEvent(At);

/// <summary>
/// Evaluates threshold rules over readings. A breach counts only when every reading of its window breached
/// (the first breaching reading starts the window); it fires once and clears when a reading recovers. A gap
/// (no sample, or failed samples, for more than three intervals) raises <see cref="MonitoringDegraded"/>
/// and neither clears nor extends a breach by itself.
/// </summary>
public sealed class ThresholdMonitor(IEnumerable<ThresholdRule> rules, TimeSpan sampleInterval, TimeProvider timeProvider)
{
    private sealed class State
    {
        public DateTimeOffset? Since;
        public readonly List<double> Readings = [];
        public bool Fired;
    }

    private readonly Dictionary<ThresholdRule, State> _states = rules.ToDictionary(r => r, _ => new State());
    private DateTimeOffset? _lastSample = timeProvider.GetUtcNow();
    private bool _degraded;

    public IReadOnlyCollection<ThresholdRule> Rules => _states.Keys;

    /// <summary>
    /// The deployment is over (post-deployment monitoring): <see cref="Metric.BlockedAppSessions"/> then counts every blocked application
    /// session. During the run it counts only those the migration blocks (<see cref="MetricSample.BlockedByMigration"/>); after it no
    /// session of the migration is left to block anyone — what it changed shows as application sessions waiting on each other — so
    /// "blocked by the migration" would always read 0. The lock-wait rule counts every application session either way.
    /// </summary>
    public bool AfterDeployment { get; init; }

    /// <summary>Rules currently breached.</summary>
    public IEnumerable<ThresholdRule> Breached => _states.Where(s => s.Value.Fired).Select(s => AsWatched(s.Key));

    /// <summary>The rule as the events name it: after the deployment, the blocked-sessions rule says it counts every blocked session.</summary>
    private ThresholdRule AsWatched(ThresholdRule rule) =>
        AfterDeployment && rule.Metric == Metric.BlockedAppSessions ? rule with { CountsEveryBlockedSession = true } : rule;

    /// <summary>Feeds a sample's metrics to the sampled rules.</summary>
    public IReadOnlyList<ThresholdEvent> Observe(MetricSample sample, double? rollbackRatioBaseline = null)
    {
        var events = new List<ThresholdEvent>();
        _lastSample = sample.At;
        _degraded = false;
        events.AddRange(Observe(Metric.AppLockWaitMs, sample.LongestAppLockWait.TotalMilliseconds, sample.At));
        // During the run, the migration's doing only: the application waiting on its own row locks is no reason to roll it back.
        events.AddRange(Observe(Metric.BlockedAppSessions, AfterDeployment ? sample.BlockedApp : sample.BlockedByMigration, sample.At));
        if (rollbackRatioBaseline is { } baseline && sample.RollbackRatioPercent is { } ratio)
            events.AddRange(Observe(Metric.RollbackRatioIncreasePoints, ratio - baseline, sample.At));
        return events;
    }

    /// <summary>Feeds one reading of <paramref name="metric"/> (a sampled value, a benchmark round, a probe).</summary>
    public IReadOnlyList<ThresholdEvent> Observe(Metric metric, double value, DateTimeOffset at)
    {
        var events = new List<ThresholdEvent>();
        foreach (var (rule, state) in _states.Where(s => s.Key.Metric == metric))
        {
            if (!rule.IsBreachedBy(value))
            {
                state.Since = null;
                state.Readings.Clear();
                if (state.Fired)
                {
                    state.Fired = false;
                    events.Add(new ThresholdCleared(at, AsWatched(rule), value));
                }
                continue;
            }
            state.Since ??= at;
            state.Readings.Add(value);
            var held = rule.For is { } window ? at - state.Since.Value >= window : state.Readings.Count >= rule.Rounds;
            if (held && !state.Fired)
            {
                state.Fired = true;
                events.Add(new ThresholdBreached(at, AsWatched(rule), value, state.Since.Value, state.Readings.ToList()));
            }
        }
        return events;
    }

    /// <summary>A sample failed. Counts towards a gap; changes no rule.</summary>
    public IReadOnlyList<ThresholdEvent> ObserveGap(SampleGap gap) => CheckGap(gap.Error);

    /// <summary>Call periodically: raises <see cref="MonitoringDegraded"/> once per gap longer than three intervals.</summary>
    public IReadOnlyList<ThresholdEvent> Tick() => CheckGap("no sample arrived");

    private IReadOnlyList<ThresholdEvent> CheckGap(string reason)
    {
        var now = timeProvider.GetUtcNow();
        _lastSample ??= now;
        var gap = now - _lastSample.Value;
        if (_degraded || gap <= 3 * sampleInterval)
            return [];
        _degraded = true;
        return [new MonitoringDegraded(now, gap, reason)];
    }
}
