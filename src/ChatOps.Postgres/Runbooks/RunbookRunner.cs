using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Monitoring;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Probes;
using Npgsql;

namespace ChatOps.Postgres.Runbooks;

/// <summary>One runbook run: which migration, where, and who hears about it.</summary>
public sealed record RunbookRequest(
    string TargetConnectionString,
    string Migration,
    string Sha256,
    SqlScript Script,
    MigrationRunbook Runbook,
    string RunId,
    Action<RunbookEvent> OnEvent,
    ExecutionControl? Control = null,
    IExecutionJournal? Journal = null);

public sealed record RunbookResult(bool Succeeded, IReadOnlyList<string> Reasons, ExecutionResult? Execution);

/// <summary>
/// Runs the checklist: pre-deployment checks → phase 1 (monitoring on, baseline) → phase 2 (the migration
/// through the lock-safe executor, the sampler watching) → phase 3 (index builds checked valid) → phase 4
/// (post benchmarks, RLS, index usage, validations) → verdict against the success criteria. Everything it
/// learns is an event.
/// </summary>
public sealed class RunbookRunner(ExecutionOptions execution, MonitoringOptions monitoring, TimeProvider timeProvider)
{
    private readonly ExecutionOptions _execution = execution;
    private readonly MonitoringOptions _monitoring = monitoring;
    private readonly TimeProvider _timeProvider = timeProvider;

    /// <summary>Runs per benchmark query per round (the median counts).</summary>
    public int BenchmarkRuns { get; init; } = 7;

    /// <summary>Post-migration benchmark rounds and RLS probes (the degradation and RLS triggers need three in a row).</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Differences in summed benchmark time below this are below what the probe resolves: they count as 0 %.</summary>
    public static readonly TimeSpan BenchmarkResolution = TimeSpan.FromMilliseconds(0.1);

    public async Task<RunbookResult> RunAsync(RunbookRequest request, CancellationToken cancellationToken)
    {
        await using var run = new Run(this, request);
        return await run.ExecuteAsync(cancellationToken);
    }

    private sealed class Run(RunbookRunner runner, RunbookRequest request) : IAsyncDisposable
    {
        private readonly object _gate = new();
        private readonly TimeProvider _time = runner._timeProvider;
        private readonly MigrationPlan _plan = MigrationPlan.For(request.Migration, request.Sha256, request.Script);
        private readonly ThresholdMonitor _monitor = new(request.Runbook.Rules(), runner._monitoring.SampleInterval, runner._timeProvider);
        private readonly List<string> _reasons = [];
        private readonly List<ThresholdBreached> _triggers = [];
        private readonly Dictionary<int, TimeSpan> _exclusiveHolds = [];
        private readonly CancellationTokenSource _samplerStop = new();
        private QueryProbes? _probes;
        private Task? _sampler;
        private double? _rollbackBaseline;
        private bool _watchBlocked;
        private int _peakBlocked;
        private int _samples;

        private DateTimeOffset Now => _time.GetUtcNow();

        private void Emit(RunbookEvent e)
        {
            lock (_gate) request.OnEvent(e);
        }

        public async Task<RunbookResult> ExecuteAsync(CancellationToken cancellationToken)
        {
            _probes = await QueryProbes.OpenAsync(request.TargetConnectionString, request.RunId, cancellationToken);
            var criteria = new Dictionary<string, (double? Value, string Detail)>();
            ExecutionResult? executed = null;

            // ── pre-deployment ──
            var ok = await PhaseAsync(RunbookPhase.PreDeployment, async () =>
            {
                var checks = await PreDeploymentChecks.RunAsync(_probes.Connection, _plan, request.Runbook, runner._execution.LockTimeout, cancellationToken);
                foreach (var check in checks)
                    Emit(new CheckCompleted(Now, RunbookPhase.PreDeployment, check));
                var failed = checks.Where(c => c.Status == CheckStatus.Fail).ToList();
                _reasons.AddRange(failed.Select(c => $"pre-deployment check failed: {c.Name}: {c.Detail}"));
                return (failed.Count == 0, $"{checks.Count(c => c.Status == CheckStatus.Pass)} passed, {checks.Count(c => c.Status == CheckStatus.Warn)} warning(s), " +
                                           $"{failed.Count} failed, {checks.Count(c => c.Status == CheckStatus.Manual)} for people to confirm");
            });
            if (!ok)
                return Verdict(criteria, executed);

            // ── phase 1: monitoring on, baseline ──
            object[] parameters = [];
            IReadOnlyList<QueryTiming> baseline = [];
            RlsOverhead? rlsBefore = null;
            DateTimeOffset baselineAt = default;
            (long Rows, long Checksum)? rowsAtBaseline = null;
            await PhaseAsync(RunbookPhase.Baseline, async () =>
            {
                var present = await MonitoringFunctions.PresentAsync(_probes.Connection, cancellationToken);
                if (!present)
                    await MonitoringFunctions.InstallAsync(request.TargetConnectionString, cancellationToken);
                Emit(new CheckCompleted(Now, RunbookPhase.Baseline, new("monitoring functions", CheckStatus.Pass,
                    present ? "present" : "installed sql/deployment/migration_performance_monitor.sql")));

                _rollbackBaseline = await RollbackRatioAsync(cancellationToken);
                await StartSamplerAsync(cancellationToken);

                parameters = await _probes.ParametersAsync(request.Runbook, cancellationToken);
                baseline = await _probes.BenchmarksAsync(request.Runbook, parameters, after: false, runner.BenchmarkRuns, cancellationToken);
                foreach (var b in baseline)
                    Emit(new Measured(Now, RunbookPhase.Baseline, $"baseline: {b.Name}", b.MedianMs, "ms", $"median of {b.Runs}"));
                rlsBefore = await RlsAsync(RunbookPhase.Baseline, parameters, cancellationToken);
                baselineAt = await ServerNowAsync(cancellationToken);
                if (request.Runbook.RowsAtBaseline is { } rowsSql)
                {
                    rowsAtBaseline = await _probes.RowsAtAsync(rowsSql, baselineAt, cancellationToken);
                    Emit(new Measured(Now, RunbookPhase.Baseline, "rows at baseline", rowsAtBaseline.Value.Rows, "rows", $"checksum {rowsAtBaseline.Value.Checksum}"));
                }
                return (true, $"{baseline.Count} benchmark queries, sampler every {Durations.Short(runner._monitoring.SampleInterval)}");
            });

            // ── phase 2: the migration ──
            var migrated = await PhaseAsync(RunbookPhase.Migration, async () =>
            {
                lock (_gate) _watchBlocked = true;
                var executor = new LockSafeExecutor(runner._execution, _time);
                executed = await executor.RunAsync(new ExecutionRequest(request.TargetConnectionString, request.Script, request.RunId, OnExecution,
                    request.Journal, request.Control), cancellationToken);
                if (!executed.Succeeded)
                    _reasons.Add(executed.Failure is { } f
                        ? $"the migration failed at line {f.Statement.Line} ({f.SqlState}): {f.Message}"
                        : $"the migration was {executed.Outcome.ToString().ToLowerInvariant()}");
                return (executed.Succeeded, $"{executed.StatementsRun} statement(s) in {Durations.Short(executed.Duration)}");
            });

            if (migrated)
            {
                // ── phase 3: index builds ──
                await PhaseAsync(RunbookPhase.IndexBuilds, async () =>
                {
                    var allValid = true;
                    await using var catalog = await OpenAsync(cancellationToken);
                    var target = new TargetCatalog(catalog);
                    foreach (var build in _plan.Statements.Where(s => s.Kind == "CREATE INDEX CONCURRENTLY"))
                    {
                        var valid = await target.JudgeAsync(build.Postconditions, cancellationToken) == PostconditionVerdict.Done;
                        allValid &= valid;
                        var index = build.Postconditions.OfType<IndexValid>().FirstOrDefault()?.Index.ToString() ?? build.Statement.Summary(60);
                        Emit(new CheckCompleted(Now, RunbookPhase.IndexBuilds, new($"index {index}", valid ? CheckStatus.Pass : CheckStatus.Fail,
                            valid ? "built and valid" : "missing or INVALID")));
                        if (!valid) _reasons.Add($"index {index} is missing or INVALID after the migration");
                    }
                    int peak;
                    lock (_gate)
                    {
                        _watchBlocked = false;
                        peak = _peakBlocked;
                    }
                    Emit(new Measured(Now, RunbookPhase.IndexBuilds, "peak blocked application sessions", peak, "sessions", "during the migration and its index builds"));
                    criteria["peak blocked application sessions"] = (peak, $"over {_samples} samples");
                    return (allValid, allValid ? "every index valid" : "an index is missing or INVALID");
                });

                // ── phase 4: validation ──
                await PhaseAsync(RunbookPhase.Validation, async () =>
                {
                    var degradation = await DegradationRoundsAsync(baseline, parameters, cancellationToken);
                    criteria["query degradation"] = degradation;

                    if (request.Runbook.RlsProbe is not null)
                    {
                        var probes = new List<double>();
                        for (var round = 1; round <= runner.Rounds; round++)
                        {
                            if (await RlsAsync(RunbookPhase.Validation, parameters, cancellationToken, $" probe {round}/{runner.Rounds}") is not { } rls)
                                break;
                            probes.Add(rls.OverheadMs);
                            Observe(Metric.RlsOverheadMs, rls.OverheadMs);
                        }
                        var median = probes.Count == 0 ? (double?)null : probes.Order().ElementAt(probes.Count / 2);
                        criteria["RLS overhead"] = (median, rlsBefore is { } before
                            ? $"was {before.OverheadMs:0.00} ms before the migration" : "not measured before the migration");
                    }

                    if (request.Runbook.IndexUsage.Count > 0)
                    {
                        var usage = await _probes.IndexUsageAsync(request.Runbook.IndexUsage, parameters, cancellationToken);
                        Emit(new Measured(Now, RunbookPhase.Validation, "index usage", usage.Percent, "%",
                            $"{usage.UsingIndex} of {usage.Queries} analytics queries use an index" +
                            (usage.NotUsingIndex.Count > 0 ? $"; not: {string.Join(" | ", usage.NotUsingIndex)}" : "")));
                        criteria["index usage"] = (usage.Percent, $"{usage.UsingIndex}/{usage.Queries} queries");
                    }

                    var validations = await ValidationProbe.RunAsync(request.TargetConnectionString, request.Runbook.Validations, cancellationToken);
                    foreach (var v in validations)
                    {
                        Emit(new CheckCompleted(Now, RunbookPhase.Validation, new(v.Name, v.Ok ? CheckStatus.Pass : CheckStatus.Fail, v.Detail)));
                        if (!v.Ok) _reasons.Add($"validation failed: {v.Name}: {v.Detail}");
                    }
                    if (rowsAtBaseline is { } before2 && request.Runbook.RowsAtBaseline is { } rowsSql)
                    {
                        var after = await _probes.RowsAtAsync(rowsSql, baselineAt, cancellationToken);
                        var same = after == before2;
                        Emit(new CheckCompleted(Now, RunbookPhase.Validation, new("no data loss", same ? CheckStatus.Pass : CheckStatus.Fail,
                            $"{after.Rows:N0} of the {before2.Rows:N0} rows that existed at baseline, checksum {(after.Checksum == before2.Checksum ? "unchanged" : "CHANGED")}")));
                        if (!same) _reasons.Add($"data changed: {after.Rows:N0} of {before2.Rows:N0} baseline rows remain");
                    }
                    var failed = validations.Count(v => !v.Ok);
                    return (failed == 0, $"{validations.Count - failed}/{validations.Count} validations hold");
                });
            }
            return Verdict(criteria, executed);
        }

        private RunbookResult Verdict(Dictionary<string, (double? Value, string Detail)> measured, ExecutionResult? executed)
        {
            StopSampler();
            var started = _time.GetTimestamp();
            Emit(new PhaseStarted(Now, RunbookPhase.Verdict));
            lock (_gate)
            {
                if (_exclusiveHolds.Count > 0)
                    measured["longest ACCESS EXCLUSIVE hold"] = (_exclusiveHolds.Values.Max().TotalMilliseconds,
                        $"statement #{_exclusiveHolds.MaxBy(h => h.Value).Key}");
                else if (executed is { Succeeded: true })
                    measured["longest ACCESS EXCLUSIVE hold"] = (0, "no statement took ACCESS EXCLUSIVE");
            }
            var criteria = Checklist.SuccessCriteria
                .Where(c => executed is { Succeeded: true } || measured.ContainsKey(c.Name))
                .Select(c => measured.TryGetValue(c.Name, out var m) ? new CriterionResult(c, m.Value, m.Detail) : new CriterionResult(c, null, "not measured"))
                .ToList();
            if (request.Runbook.RlsProbe is null)
                criteria.RemoveAll(c => c.Criterion.Name == "RLS overhead");
            if (request.Runbook.IndexUsage.Count == 0)
                criteria.RemoveAll(c => c.Criterion.Name == "index usage");
            foreach (var c in criteria.Where(c => !c.Passed))
                _reasons.Add($"success criterion not met: {c.Criterion.Describe()} (measured {(c.Measured is { } v ? $"{v:0.##}{c.Criterion.Unit}" : "nothing")})");
            lock (_gate)
                _reasons.AddRange(_triggers.Select(t => $"rollback trigger fired: {t.Rule.Describe()} (last {t.Value:0.##}{ThresholdRule.Unit(t.Rule.Metric)})"));
            var succeeded = _reasons.Count == 0;
            Emit(new VerdictReached(Now, succeeded, criteria, _reasons.ToList()));
            Emit(new PhaseFinished(Now, RunbookPhase.Verdict, _time.GetElapsedTime(started), succeeded, succeeded ? "success" : $"{_reasons.Count} reason(s) to fail"));
            return new RunbookResult(succeeded, _reasons.ToList(), executed);
        }

        private async Task<bool> PhaseAsync(RunbookPhase phase, Func<Task<(bool Ok, string Summary)>> body)
        {
            var started = _time.GetTimestamp();
            Emit(new PhaseStarted(Now, phase));
            var (ok, summary) = await body();
            Emit(new PhaseFinished(Now, phase, _time.GetElapsedTime(started), ok, summary));
            return ok;
        }

        private void OnExecution(ExecutionEvent e)
        {
            Emit(new ExecutionReported(Now, e));
            if (e is StatementFinished f && _plan.Statements[f.Statement.Number - 1].StrongestLock == LockMode.AccessExclusive)
                lock (_gate) _exclusiveHolds[f.Statement.Number] = f.LockHeld;
        }

        /// <summary>Post-migration benchmark rounds; each round's overall delta feeds the degradation trigger.</summary>
        private async Task<(double? Value, string Detail)> DegradationRoundsAsync(IReadOnlyList<QueryTiming> baseline, object[] parameters, CancellationToken cancellationToken)
        {
            if (baseline.Count == 0)
                return (null, "no benchmark queries");
            var last = 0.0;
            IReadOnlyList<QueryTiming> after = [];
            for (var round = 1; round <= runner.Rounds; round++)
            {
                after = await _probes!.BenchmarksAsync(request.Runbook, parameters, after: true, runner.BenchmarkRuns, cancellationToken);
                var pairs = baseline.Join(after, b => b.Name, a => a.Name, (b, a) => (b.MedianMs, a.MedianMs)).ToList();
                var before = pairs.Sum(p => p.Item1);
                var now = pairs.Sum(p => p.Item2);
                var delta = Math.Abs(now - before) < BenchmarkResolution.TotalMilliseconds || before == 0 ? 0 : 100 * (now - before) / before;
                last = delta;
                Emit(new Measured(Now, RunbookPhase.Validation, $"benchmark round {round}", delta, "%", $"{before:0.000} ms → {now:0.000} ms summed over {pairs.Count} queries"));
                Observe(Metric.QueryDegradationPercent, delta);
            }
            foreach (var a in after)
            {
                var b = baseline.FirstOrDefault(x => x.Name == a.Name);
                var detail = b is null ? "new query (after the migration only)" : $"was {b.MedianMs:0.000} ms ({Delta(b.MedianMs, a.MedianMs)})";
                Emit(new Measured(Now, RunbookPhase.Validation, $"after: {a.Name}", a.MedianMs, "ms", detail));
            }
            return (last, $"last of {runner.Rounds} rounds; differences under {BenchmarkResolution.TotalMilliseconds} ms in total count as 0");
        }

        private static string Delta(double before, double after) => before == 0 ? "n/a" : $"{100 * (after - before) / before:+0.0;-0.0;0} %";

        private async Task<RlsOverhead?> RlsAsync(RunbookPhase phase, object[] parameters, CancellationToken cancellationToken, string label = "")
        {
            if (request.Runbook.RlsProbe is not { } probe)
                return null;
            try
            {
                // Before the migration the probe query may need columns that do not exist yet.
                if (phase == RunbookPhase.Baseline && probe.SqlBefore is { } before)
                    probe = probe with { Sql = before };
                var rls = await _probes!.RlsOverheadAsync(probe, parameters, runner.BenchmarkRuns, cancellationToken);
                Emit(new Measured(Now, phase, "RLS overhead" + label, rls.OverheadMs, "ms",
                    $"{rls.AsRoleMs:0.000} ms as {probe.Role} vs {rls.AsOwnerMs:0.000} ms as owner, median of {rls.Runs}: {probe.Sql}"));
                return rls;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedObject)
            {
                Emit(new Measured(Now, phase, "RLS overhead", double.NaN, "ms", $"not measurable: {ex.MessageText}"));
                return null;
            }
        }

        private void Observe(Metric metric, double value)
        {
            lock (_gate)
                Report(_monitor.Observe(metric, value, Now));
        }

        private void Report(IReadOnlyList<ThresholdEvent> events)
        {
            foreach (var t in events)
            {
                if (t is ThresholdBreached { Rule.Action: BreachAction.RollbackTrigger } b)
                    _triggers.Add(b);
                request.OnEvent(new ThresholdReported(t.At, t));
            }
        }

        private async Task StartSamplerAsync(CancellationToken cancellationToken)
        {
            var sampler = await MetricSampler.OpenAsync(request.TargetConnectionString, request.RunId, _time, cancellationToken);
            var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _samplerStop.Token);
            _sampler = Task.Run(async () =>
            {
                await using (sampler)
                    await sampler.RunAsync(runner._monitoring.SampleInterval, OnReading, stop.Token);
                stop.Dispose();
            }, CancellationToken.None);
        }

        private void OnReading(MonitoringReading reading)
        {
            lock (_gate)
            {
                request.OnEvent(new Sampled(reading.At, reading));
                if (reading is MetricSample sample)
                {
                    _samples++;
                    if (_watchBlocked) _peakBlocked = Math.Max(_peakBlocked, sample.BlockedApp);
                    Report(_monitor.Observe(sample, _rollbackBaseline));
                }
                else if (reading is SampleGap gap)
                {
                    Report(_monitor.ObserveGap(gap));
                }
            }
        }

        private void StopSampler()
        {
            _samplerStop.Cancel();
        }

        private async Task<double?> RollbackRatioAsync(CancellationToken cancellationToken)
        {
            await using var command = new NpgsqlCommand(
                "SELECT 100.0 * xact_rollback / nullif(xact_commit + xact_rollback, 0) FROM pg_stat_database WHERE datname = current_database()", _probes!.Connection);
            var value = await command.ExecuteScalarAsync(cancellationToken);
            return value is decimal d ? (double)d : null;
        }

        private async Task<DateTimeOffset> ServerNowAsync(CancellationToken cancellationToken)
        {
            await using var command = new NpgsqlCommand("SELECT now()", _probes!.Connection);
            return new DateTimeOffset((DateTime)(await command.ExecuteScalarAsync(cancellationToken))!, TimeSpan.Zero);
        }

        private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
            TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}:check", cancellationToken);

        public async ValueTask DisposeAsync()
        {
            StopSampler();
            if (_sampler is not null)
                await _sampler;
            _samplerStop.Dispose();
            if (_probes is not null)
                await _probes.Connection.DisposeAsync();
        }
    }
}
