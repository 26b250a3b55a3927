using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ChatOps.Bot.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.State;
using Prometheus;

namespace ChatOps.Bot.Hosting;

/// <summary>What a platform call came to, as <c>chatops_platform_calls_total</c> counts it.</summary>
public enum PlatformCallResult
{
    Ok,
    Error,
    /// <summary>The platform still answered 429 after the adapter's own waiting and retrying.</summary>
    RateLimited,
}

/// <summary>
/// The bot's metrics: one <see cref="Meter"/> (<c>ChatOps</c>) and its instruments, published in Prometheus form in
/// <see cref="Registry"/> (served on <c>/metrics</c> by <see cref="BotMetricsEndpoint.MapBotMetrics"/>). The owner and the
/// dispatchers report what happens; what the state database holds (deployments by state, the outbox's depth) is read by
/// <see cref="RunAsync"/> every <see cref="RefreshInterval"/> and a scrape only sees the last reading — a scrape never touches
/// the database, and a failed reading keeps the last values (and is logged).
/// </summary>
/// <remarks>
/// prometheus-net's own Meter adapter (the one <c>MapMetrics()</c> serves by default) only starts listening at the first
/// scrape, so what is recorded before it is lost, and it names a series after the meter and the instrument
/// (<c>chatops_</c> + name). Here an adapter is started in the constructor, listens to this instance's meter only (two bots
/// in one test process do not mix) and publishes into a registry of its own; instruments are named without the prefix.
/// </remarks>
public sealed class BotMetrics : IDisposable
{
    /// <summary>The meter's name, and so the prefix of every series (<c>chatops_…</c>).</summary>
    public const string MeterName = "ChatOps";

    private static readonly double[] PhaseBuckets = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
    private static readonly double[] LockHoldBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Meter _meter = new(MeterName);
    private readonly IDisposable _adapter;
    private readonly TimeProvider _time;
    private readonly ILogger<BotMetrics> _logger;
    private readonly Histogram<double> _phaseDuration;
    private readonly Histogram<double> _lockHold;
    private readonly ConcurrentDictionary<string, MetricSample> _lastSamples = new();
    private readonly ConcurrentDictionary<(string Platform, PlatformCallResult Result), Tally> _platformCalls = new();
    private long _retries;
    private ChatOpsBot? _bot;
    private StateReading? _state;
    private bool _failing;

    public BotMetrics(TimeProvider time, ILogger<BotMetrics> logger)
    {
        _time = time;
        _logger = logger;

        _phaseDuration = _meter.CreateHistogram("phase_duration_seconds", "s", "How long each runbook phase took, by phase.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = PhaseBuckets });
        _lockHold = _meter.CreateHistogram("lock_hold_seconds", "s",
            "How long a migration statement held its table locks (to its commit); statements that take none are not observed.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LockHoldBuckets });
        _meter.CreateObservableCounter("executor_retries_total", () => Interlocked.Read(ref _retries), null,
            "Statements sent again after lock_timeout (runs and rollbacks of this replica).");
        _meter.CreateObservableGauge("app_lock_wait_seconds", () => _lastSamples.Values.Select(s =>
                new Measurement<double>(s.LongestAppLockWait.TotalSeconds, new KeyValuePair<string, object?>("database", s.Database))), "s",
            "The longest lock wait of an application session in the last monitoring sample of a run on that database (kept after the run).");
        _meter.CreateObservableGauge("blocked_sessions", () => _lastSamples.Values.SelectMany(s => new[]
            {
                new Measurement<long>(s.BlockedByMigration, new("database", s.Database), new("blocked_by", "migration")),
                new Measurement<long>(s.BlockedByOthers, new("database", s.Database), new("blocked_by", "others")),
            }), null,
            "Application sessions waiting for a lock in the last monitoring sample (blocked_by: the migration, or only each other).");
        _meter.CreateObservableGauge("sample_timestamp_seconds", () => _lastSamples.Values.Select(s =>
                new Measurement<double>(s.At.ToUnixTimeMilliseconds() / 1000.0, new KeyValuePair<string, object?>("database", s.Database))), "s",
            "When the last monitoring sample of that database was taken (Unix time): how old the two gauges above are.");
        _meter.CreateObservableCounter("platform_calls_total", () => _platformCalls.Select(c => new Measurement<long>(Interlocked.Read(ref c.Value.Value),
                new("platform", c.Key.Platform), new("result", Label(c.Key.Result)))), null,
            "Messages sent to a platform by the outbox, by result. rate_limited counts only calls that still got 429 after the adapter's own " +
            "waiting (a 429 the Slack or Discord client waited out and then sent is an ok here, and only in its warning log).");
        _meter.CreateObservableCounter("inbox_events_total", InboxEvents, null,
            "Inbound events offered to this replica's inbox: accepted, or a duplicate of one already there (not handled again).");
        _meter.CreateObservableCounter<long>("inbox_handled_total", () => _bot is { } bot ? [new Measurement<long>(bot.Handler.Handled)] : [], null,
            "Inbound events handled by this replica.");
        _meter.CreateObservableGauge("deployments", Deployments, null, "Deployments in the state database by state (all replicas'), as last read.");
        _meter.CreateObservableGauge("outbox_pending", () => Outbox(d => d.Pending), null, "Messages waiting to be sent, as last read.");
        _meter.CreateObservableGauge("outbox_parked", () => Outbox(d => d.Parked), null, "Messages set aside after repeated failures, as last read.");
        _meter.CreateObservableGauge("outbox_oldest_age_seconds", OldestAge, "s", "How long the oldest unsent message has waited (0 when none).");

        Registry = Metrics.NewCustomRegistry();
        _adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = Registry,
            // Registry alone is not enough: the series are made by MetricFactory, which defaults to the default registry's.
            MetricFactory = Metrics.WithCustomRegistry(Registry),
            InstrumentFilterPredicate = instrument => ReferenceEquals(instrument.Meter, _meter),
            // The adapter drops a series nobody updated for this long (5 minutes by default, a day at most). The observable
            // instruments are updated at every scrape; a histogram waits for the next deployment, so it is kept as long as allowed.
            MetricsExpireAfter = TimeSpan.FromDays(1),
            ResolveHistogramBuckets = instrument => (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries?.ToArray()
                                                    ?? MeterAdapterOptions.DefaultHistogramBuckets,
        });
        DotNetStats.Register(Registry);
    }

    /// <summary>Where the series are published: what <c>/metrics</c> serves.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>How often the state database is read for deployments by state and the outbox's depth.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The replica whose inbox, outbox and deployments are observed (<see cref="ChatOpsBot"/> calls it).</summary>
    public void Watch(ChatOpsBot bot)
    {
        _bot = bot;
        foreach (var platform in bot.Dispatchers.Keys)
            foreach (var result in Enum.GetValues<PlatformCallResult>())
                _platformCalls.GetOrAdd((platform, result), _ => new Tally());
    }

    /// <summary>
    /// Every runbook event this replica's runs record, raised on the runner's thread as the runner emits it — before the event is written
    /// anywhere, and before the runner goes on: a handler that must act at an exact point of a run (the demo's other application locking the
    /// table the moment phase 2 starts) does it there, and the run waits for it.
    /// </summary>
    public event Action<RunbookEvent>? Recorded;

    /// <summary>One runbook event: a phase's duration, the executor's events, the last monitoring sample.</summary>
    public void Record(RunbookEvent e)
    {
        Recorded?.Invoke(e);
        switch (e)
        {
            case PhaseFinished phase:
                _phaseDuration.Record(phase.Duration.TotalSeconds, new KeyValuePair<string, object?>("phase", Label(phase.Phase)));
                break;
            case ExecutionReported reported:
                Record(reported.Execution);
                break;
            case Sampled { Reading: MetricSample sample }:
                _lastSamples[sample.Database] = sample;
                break;
        }
    }

    /// <summary>One executor event (of a run or a rollback): retries and lock holds.</summary>
    public void Record(ExecutionEvent e)
    {
        switch (e)
        {
            case StatementRetried:
                Interlocked.Increment(ref _retries);
                break;
            case StatementFinished { LockHeld: var held } when held > TimeSpan.Zero:
                _lockHold.Record(held.TotalSeconds);
                break;
        }
    }

    /// <summary>One call to a platform's API made by an outbox dispatcher.</summary>
    public void PlatformCall(string platform, PlatformCallResult result) =>
        Interlocked.Increment(ref _platformCalls.GetOrAdd((platform, result), _ => new Tally()).Value);

    /// <summary>Reads the state database every <see cref="RefreshInterval"/> until <paramref name="stopping"/>.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            await RefreshAsync(stopping);
            try
            {
                await Task.Delay(RefreshInterval, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Reads deployments by state and the outbox's depth now; a failure keeps the last reading and is logged.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_bot is not { } bot)
            return;
        try
        {
            var states = await bot.Store.CountByStateAsync(cancellationToken);
            var depth = await bot.Outbox.DepthAsync(cancellationToken);
            Volatile.Write(ref _state, new StateReading(states, depth));
            if (_failing)
                _logger.LogInformation("metrics: the state database can be read again");
            _failing = false;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Once per failing streak: every few seconds would drown the log while the database is away.
            if (!_failing)
                _logger.LogWarning(ex, "metrics: the state database could not be read; /metrics keeps the last values until it can");
            else
                _logger.LogDebug(ex, "metrics: the state database still cannot be read");
            _failing = true;
        }
    }

    private IEnumerable<Measurement<long>> InboxEvents()
    {
        if (_bot is not { } bot)
            return [];
        var (accepted, duplicates) = bot.Inbox.Counts;
        return [new(accepted, new KeyValuePair<string, object?>("result", "accepted")), new(duplicates, new KeyValuePair<string, object?>("result", "duplicate"))];
    }

    private IEnumerable<Measurement<long>> Deployments() => Volatile.Read(ref _state) is { } state
        ? Enum.GetValues<DeploymentState>().Select(s => new Measurement<long>(state.States.GetValueOrDefault(s), new KeyValuePair<string, object?>("state", s.ToString())))
        : [];

    private IEnumerable<Measurement<long>> Outbox(Func<OutboxDepth, long> value) =>
        Volatile.Read(ref _state) is { } state ? [new Measurement<long>(value(state.Outbox))] : [];

    // From the oldest message's time, not its age when read: the age goes on growing between readings.
    private IEnumerable<Measurement<double>> OldestAge() => Volatile.Read(ref _state) is { } state
        ? [new Measurement<double>(state.Outbox.OldestPending is { } oldest ? Math.Max(0, (_time.GetUtcNow() - oldest).TotalSeconds) : 0)]
        : [];

    private static string Label(PlatformCallResult result) => result switch
    {
        PlatformCallResult.Ok => "ok",
        PlatformCallResult.RateLimited => "rate_limited",
        _ => "error",
    };

    // PreDeployment → pre_deployment
    private static string Label(RunbookPhase phase) =>
        string.Concat(phase.ToString().Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    public void Dispose()
    {
        _adapter.Dispose();
        _meter.Dispose();
    }

    private sealed record StateReading(IReadOnlyDictionary<DeploymentState, long> States, OutboxDepth Outbox);

    private sealed class Tally
    {
        public long Value;
    }
}
