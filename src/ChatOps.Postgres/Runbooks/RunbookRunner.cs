using ChatOps.Core.Execution;
using ChatOps.Core.Migrations;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.History;
using ChatOps.Postgres.Monitoring;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Probes;
using Npgsql;

namespace ChatOps.Postgres.Runbooks;

/// <summary>One runbook run: which migration, where, and who hears about it.</summary>
/// <param name="AppliedBy">Who asked for the run, recorded in the target's migration history.</param>
/// <param name="Force">Run even when the history says this migration was applied.</param>
/// <param name="Restart">Start from the first statement even when an earlier run stopped part-way (its journal is discarded).</param>
/// <param name="ResumeFrom">Continue a run that stopped part-way, from the latest <see cref="CheckpointReached"/> it emitted: the
/// target's history must decide to resume, with that run's entry as the migration's latest. No pre-deployment check and no
/// baseline measurement is run again; the run continues at the checkpoint's phase and is judged against its baseline.</param>
public sealed record RunbookRequest(
    string TargetConnectionString,
    string Migration,
    string Sha256,
    SqlScript Script,
    MigrationRunbook Runbook,
    string RunId,
    Action<RunbookEvent> OnEvent,
    ExecutionControl? Control = null,
    string AppliedBy = "unknown",
    bool Force = false,
    bool Restart = false,
    RunbookCheckpoint? ResumeFrom = null);

/// <summary>How a runbook run ended, as far as a caller's exit code cares.</summary>
public enum RunbookOutcome
{
    /// <summary>The migration ran and the verdict is success.</summary>
    Succeeded,
    /// <summary>Something failed after the target was touched: a statement, a validation, a criterion, a trigger.</summary>
    Failed,
    /// <summary>The history says this version was applied already: nothing was done.</summary>
    AlreadyApplied,
    /// <summary>Refused before touching the target: nothing to run, the history forbids it, or a pre-deployment check failed.</summary>
    Refused,
    /// <summary>Stopped by the operator (<see cref="ExecutionControl.Cancel"/>).</summary>
    Cancelled,
    /// <summary>Before the target was touched, it went away or a check waited too long behind another session's lock.</summary>
    TargetUnavailable,
}

public sealed record RunbookResult(RunbookOutcome Outcome, IReadOnlyList<string> Reasons, ExecutionResult? Execution)
{
    public bool Succeeded => Outcome is RunbookOutcome.Succeeded or RunbookOutcome.AlreadyApplied;
}

/// <summary>
/// Runs the checklist: pre-deployment checks → phase 1 (monitoring on, baseline) → phase 2 (the migration
/// through the lock-safe executor, the sampler watching) → phase 3 (index builds checked valid) → phase 4
/// (post benchmarks, RLS, index usage, validations) → verdict against the success criteria. Everything it
/// learns is an event. After phase 1 (and each statement, and phases 2 and 3) it emits a <see cref="CheckpointReached"/>;
/// a request with <see cref="RunbookRequest.ResumeFrom"/> continues a stopped run at the checkpoint's phase, judged
/// against the checkpoint's baseline, without the pre-deployment checks or phase 1.
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
        private readonly ExecutionControl _control = request.Control ?? new ExecutionControl();
        private readonly Dictionary<string, (double? Value, string Detail)> _criteria = [];
        private ExecutionResult? _executed;
        private RunbookOutcome _refusedOr = RunbookOutcome.Failed;
        private RunbookPhase _phase = RunbookPhase.PreDeployment;
        // The run's own session: it holds the target's run lock from before the checks to the verdict, and the statements run in it.
        private NpgsqlConnection? _session;
        private TargetHistory? _history;
        private long? _historyId;
        private QueryProbes? _probes;
        private MetricSampler? _samplerSession;
        private Task? _sampler;
        private double? _rollbackBaseline;
        // Phase 1's outputs, measured here or taken from the checkpoint a resumed run continues from.
        private object[] _parameters = [];
        private IReadOnlyList<RunbookParameter> _savedParameters = [];
        private BenchmarkRound? _baseline;
        private RlsOverhead? _rlsBefore;
        private KeptRows? _kept;
        private TransactionCounts? _countsAtMigration;
        private long _ownCommitsAtMigration;
        private IReadOnlySet<uint> _notValidBefore = new HashSet<uint>();
        private DateTimeOffset _baselineAt;
        private string _baselineRunId = request.RunId;
        private bool _migrationCompletedEarlier;
        private bool _checkpointed;
        private bool _watchBlocked;
        private int _peakBlocked;
        private int _peakBlockedByOthers;
        private int _blockedSamples;
        private string _samplerDatabase = "the target";
        private volatile bool _migrationRunning;
        // Transactions the bot itself aborted (lock-timeout attempts, failed probes, failed samples): pg_stat_database
        // counts them as rollbacks, and they are not the application's failures.
        private long _ownFailures;
        // … and the transactions it committed itself outside the probe and sampler sessions (which count their own).
        private long _ownCommits;

        private DateTimeOffset Now => _time.GetUtcNow();

        private void Emit(RunbookEvent e)
        {
            lock (_gate) request.OnEvent(e);
        }

        public async Task<RunbookResult> ExecuteAsync(CancellationToken cancellationToken)
        {
            if (request.Script.Statements.Count == 0)
            {
                // Nothing to run is not a success: refuse before touching the target.
                _reasons.Add("the migration has no statements (an empty or comment-only file): nothing to run");
                _refusedOr = RunbookOutcome.Refused;
                return await VerdictAsync();
            }

            // One run per target, from the first check to the verdict: a second run is refused before it reads anything.
            _session = await TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}", cancellationToken);
            await TargetRunLock.AcquireAsync(_session, cancellationToken);
            _history = await TargetHistory.OpenAsync(request.TargetConnectionString, request.RunId, cancellationToken);
            var last = await _history.LastAsync(request.Migration, cancellationToken);
            var decision = RunDecision.For(last, request.Sha256, request.Force, request.Restart,
                last is not null && await _history.CompletedUnchangedAsync(request.Migration, request.Script, cancellationToken));
            Emit(new HistoryConsulted(Now, last, decision));
            switch (decision)
            {
                case RunDecision.AlreadyApplied:
                    return new RunbookResult(RunbookOutcome.AlreadyApplied, [], null);
                case RunDecision.AppliedButFailed failedBefore:
                    // A retrying pipeline must not read the second call as a success.
                    return new RunbookResult(RunbookOutcome.Failed, [failedBefore.Describe()], null);
                case RunDecision.Refused refused:
                    _reasons.Add(refused.Why);
                    _refusedOr = RunbookOutcome.Refused;
                    return await VerdictAsync();
            }
            if (request.ResumeFrom is { } from && CannotResume(from, decision) is { } cannot)
            {
                _reasons.Add($"cannot resume from the checkpoint: {cannot}");
                _refusedOr = RunbookOutcome.Refused;
                return await VerdictAsync();
            }

            // Ctrl-C, /migrate abort: the probes stop too, not only the statements.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _control.Cancellation);
            try
            {
                return await PhasesAsync(decision, stop.Token, cancellationToken);
            }
            catch (OperationCanceledException) when (_control.IsCancelRequested && !cancellationToken.IsCancellationRequested)
            {
                _reasons.Add($"cancelled by the operator during {Checklist.Title(_phase)}");
                _refusedOr = RunbookOutcome.Cancelled;
                return await VerdictAsync();
            }
            catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The server stopped, a session was terminated, the network dropped, a check waited out its lock timeout:
                // a reason and a verdict, never a crash.
                var waited = ex is PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable };
                var why = waited ? $"a query waited {Durations.Short(TargetSession.QueryLockTimeout)} for a table lock and gave up: {await WhoHoldsTheTablesAsync()}"
                    : TargetFailureText(ex);
                _reasons.Add($"{(LostTheTarget(ex) ? "lost the target" : "a query on the target failed")} during {Checklist.Title(_phase)}: {why}");
                if (_historyId is null && (waited || LostTheTarget(ex)))
                    _refusedOr = RunbookOutcome.TargetUnavailable;
                return await VerdictAsync();
            }
        }

        /// <summary>Why <paramref name="from"/> cannot continue this run given the target's history, or null when it can.</summary>
        private string? CannotResume(RunbookCheckpoint from, RunDecision decision) =>
            from.Unusable(request.Migration) ?? decision switch
            {
                _ when from.RowsAtBaseline is { } kept && !QueryProbes.IsRowsAtBaselineTable(kept.Table) =>
                    $"its rows at baseline are said to be in {kept.Table}, which is not a table the runbook keeps them in",
                RunDecision.Resume { Earlier.Id: var id } when id == from.HistoryId => null,
                RunDecision.Resume r => $"it is of run {from.RunId} (history entry {from.HistoryId}), but the migration's latest entry on the target is " +
                                        $"{r.Earlier.Id} ({r.Earlier.Describe()}): another run happened since, or this is another run's checkpoint",
                _ => $"the target's history does not say to resume ({decision.Describe()})",
            };

        /// <summary>Who holds locks on the migration's tables now, for a query that gave up waiting (best effort: the target may be gone).</summary>
        private async Task<string> WhoHoldsTheTablesAsync()
        {
            try
            {
                await using var connection = await TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}:who", CancellationToken.None);
                var locks = _plan.Statements.SelectMany(s => s.Tables).Distinct().Select(t => new TableLock(t, LockMode.AccessShare));
                var holders = (await new TargetCatalog(connection).BlockersAsync(locks, [connection.ProcessID], TimeSpan.Zero, CancellationToken.None))
                    .Where(h => !h.ApplicationName.StartsWith($"chatops:{request.RunId}", StringComparison.Ordinal)).ToList();
                return holders.Count == 0
                    ? "no session holds a conflicting lock on the migration's tables any more: run again"
                    : $"held by {string.Join("; ", holders.Select(h => h.Describe()))}. Wait for it, or end it: {string.Join(" ", holders.Select(h => $"SELECT pg_terminate_backend({h.Pid});"))}";
            }
            catch (NpgsqlException ex)
            {
                return $"(could not look who holds it: {TargetFailureText(ex)})";
            }
        }

        /// <summary>The session is gone (server stopped, session terminated, network), as opposed to one query failing.</summary>
        private static bool LostTheTarget(NpgsqlException ex) =>
            ex is not PostgresException pg || pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal);

        private static string TargetFailureText(NpgsqlException ex) => ex is PostgresException pg
            ? $"{pg.MessageText} ({pg.SqlState})"
            : ex.Message + (ex.InnerException is { } inner ? $": {inner.Message}" : "");

        private async Task<RunbookResult> PhasesAsync(RunDecision decision, CancellationToken cancellationToken, CancellationToken executorToken)
        {
            _probes = await QueryProbes.OpenAsync(request.TargetConnectionString, request.RunId, cancellationToken);
            var resume = request.ResumeFrom;

            // ── pre-deployment ── (not again when resuming: they judge the database before the migration, and it has started)
            if (resume is null)
            {
                var ok = await PhaseAsync(RunbookPhase.PreDeployment, cancellationToken, async () =>
                {
                    var checks = await PreDeploymentChecks.RunAsync(_probes.Connection, _plan, request.Runbook, runner._execution.LockTimeout, cancellationToken,
                        runner._execution.OldSnapshotWarning);
                    foreach (var check in checks)
                        Emit(new CheckCompleted(Now, RunbookPhase.PreDeployment, check));
                    var failed = checks.Where(c => c.Status == CheckStatus.Fail).ToList();
                    _reasons.AddRange(failed.Select(c => $"pre-deployment check failed: {c.Name}: {c.Detail}"));
                    return (failed.Count == 0, $"{checks.Count(c => c.Status == CheckStatus.Pass)} passed, {checks.Count(c => c.Status == CheckStatus.Warn)} warning(s), " +
                                               $"{failed.Count} failed, {checks.Count(c => c.Status == CheckStatus.Manual)} for people to confirm");
                });
                if (!ok)
                {
                    _refusedOr = RunbookOutcome.Refused;
                    return await VerdictAsync();
                }
            }

            // Phase 1's boundary comes before the target is touched (the history, its schema): a hold here leaves nothing behind.
            if (resume is null)
                await BoundaryAsync(RunbookPhase.Baseline, cancellationToken);

            // From here on the target is touched: the history records the run (and a fresh run forgets an old journal).
            try
            {
                await _history!.EnsureAsync(cancellationToken);
            }
            catch (MigrationHistoryUnavailableException ex)
            {
                _reasons.Add(ex.Message);
                _refusedOr = RunbookOutcome.Refused;
                return await VerdictAsync();
            }
            if (decision is RunDecision.Fresh)
                await _history.DiscardJournalAsync(request.Migration, cancellationToken);
            _historyId = await _history.BeginAsync(request.Migration, request.Sha256, HistoryKind.Run, request.RunId, request.AppliedBy, cancellationToken);

            if (resume is null)
            {
                await BaselineAsync(cancellationToken);
                EmitCheckpoint(RunbookPhase.Migration);
            }
            else
                await ContinueFromAsync(resume, cancellationToken);

            var at = resume?.Phase ?? RunbookPhase.Migration;
            var migrated = at > RunbookPhase.Migration;
            if (!migrated)
            {
                migrated = await MigrationAsync(executorToken);
                if (migrated)
                    EmitCheckpoint(RunbookPhase.IndexBuilds);
            }
            if (migrated)
            {
                if (at <= RunbookPhase.IndexBuilds)
                {
                    await IndexBuildsAsync(cancellationToken);
                    EmitCheckpoint(RunbookPhase.Validation);
                }
                await ValidationAsync(cancellationToken);
            }
            return await VerdictAsync();
        }

        /// <summary>Phase 1 — monitoring on, baseline — and what the migration's judgement needs from just before it starts.</summary>
        private async Task BaselineAsync(CancellationToken cancellationToken)
        {
            await PhaseAsync(RunbookPhase.Baseline, cancellationToken, async () =>
            {
                var present = await MonitoringFunctions.PresentAsync(_probes!.Connection, cancellationToken);
                if (!present)
                    await MonitoringFunctions.InstallAsync(request.TargetConnectionString, cancellationToken);
                Emit(new CheckCompleted(Now, RunbookPhase.Baseline, new("monitoring functions", CheckStatus.Pass,
                    present ? "present" : "installed sql/deployment/migration_performance_monitor.sql")));

                // The database's normal rollback ratio, over its statistics' lifetime.
                _rollbackBaseline = (await TransactionCounters.ReadAsync(_probes.Connection, cancellationToken)).RollbackRatioPercent;
                await StartSamplerAsync(cancellationToken);

                _parameters = await _probes.ParametersAsync(request.Runbook, cancellationToken);
                _savedParameters = await _probes.SaveParametersAsync(_parameters, cancellationToken);
                var baseline = await _probes.BenchmarksAsync(request.Runbook, _parameters, after: false, runner.BenchmarkRuns, cancellationToken);
                _baseline = baseline;
                foreach (var b in baseline.Queries)
                    Emit(new Measured(Now, RunbookPhase.Baseline, $"baseline: {b.Name}", b.MedianMs, "ms",
                        $"median of {b.TimesMs.Count}, slowest {b.MaxMs:0.000} ms, buffers {b.Buffers:N0}, {string.Join(" + ", b.AccessPaths.DefaultIfEmpty("no scan"))}"));
                if (baseline.Queries.Count > 0)
                    Emit(new Measured(Now, RunbookPhase.Baseline, "baseline: control query", baseline.Control.MedianMs, "ms",
                        $"median of {baseline.Control.TimesMs.Count}; touches no table — its slow-down later is the machine's"));
                _rlsBefore = await RlsAsync(RunbookPhase.Baseline, _parameters, baseline.Control, cancellationToken);
                // A new baseline makes the rows earlier runs of this migration kept useless.
                await _history!.DropRowsAtBaselineAsync(request.Migration, cancellationToken);
                if (request.Runbook.RowsAtBaseline is { } rowsSql)
                {
                    _kept = await _probes.KeepRowsAtBaselineAsync(rowsSql, QueryProbes.RowsAtBaselineTable(_historyId!.Value), cancellationToken);
                    Emit(new Measured(Now, RunbookPhase.Baseline, "rows at baseline", _kept.Count, "rows",
                        $"their keys as one snapshot saw them, kept in {_kept.Table} until the verdict"));
                }
                _baselineAt = Now;
                return (true, $"{baseline.Queries.Count} benchmark queries, sampler every {Durations.Short(runner._monitoring.SampleInterval)} " +
                              $"(every {Durations.Short(MigrationInterval)} and at each statement while the migration runs)");
            });

            // The application's transactions are judged from here to the end of validation: a broken write path shows
            // after the statements too.
            _countsAtMigration = await TransactionCounters.ReadAsync(_probes!.Connection, cancellationToken);
            _ownCommitsAtMigration = OwnCommits();
            // NOT VALID checks that exist already are the application's business; only those the migration adds are judged.
            _notValidBefore = await ConstraintProbe.NotValidChecksAsync(_probes.Connection, cancellationToken);
            _probes.CountTransaction();
            _probes.CountTransaction();   // and the counters just read
        }

        /// <summary>
        /// A resumed run takes phase 1's outputs from the checkpoint instead of measuring them again (the migration has
        /// started: a baseline now would measure the half-migrated database), restarts the sampler and says so.
        /// </summary>
        private async Task ContinueFromAsync(RunbookCheckpoint from, CancellationToken cancellationToken)
        {
            _baselineAt = from.BaselineAt;
            _baselineRunId = from.BaselineRunId;
            _rollbackBaseline = from.RollbackBaselinePercent;
            _countsAtMigration = from.CountsAtMigration;
            _ownCommitsAtMigration = from.OwnCommitsAtMigration;
            // The bot's own transactions since the migration started, counted by the processes before this one.
            _ownCommits = from.OwnCommits;
            _ownFailures = from.OwnFailures;
            _notValidBefore = from.NotValidChecksBefore.ToHashSet();
            _baseline = from.Baseline;
            _rlsBefore = from.RlsBefore;
            _savedParameters = from.Parameters;
            _parameters = await _probes!.RestoreParametersAsync(from.Parameters, cancellationToken);
            _kept = from.RowsAtBaseline;
            _migrationCompletedEarlier = from.Phase > RunbookPhase.Migration;
            lock (_gate)
            {
                _peakBlocked = from.Watch.PeakBlocked;
                _peakBlockedByOthers = from.Watch.PeakBlockedByOthers;
                _blockedSamples = from.Watch.Samples;
                foreach (var (statement, held) in from.Watch.ExclusiveHolds)
                    _exclusiveHolds[statement] = held;
                _reasons.AddRange(from.Reasons);
            }
            foreach (var c in from.Criteria)
                _criteria[c.Name] = (c.Value, c.Detail);

            await StartSamplerAsync(cancellationToken);

            var rows = _kept is null
                ? "no rows were kept at baseline (the runbook has no rowsAtBaseline)"
                : await _probes.KeptRowsAsync(_kept.Table, cancellationToken) is not { } now
                    ? $"the rows kept at baseline ({_kept.Table}) are gone: the data-loss check will fail"
                    : now.Count == _kept.Count && now.Checksum == _kept.Checksum
                        ? $"the {_kept.Count:N0} rows kept at baseline in {_kept.Table} are intact (count and checksum)"
                        : $"the rows kept at baseline in {_kept.Table} changed since ({now.Count:N0} rows, {_kept.Count:N0} then; checksum {(now.Checksum == _kept.Checksum ? "same" : "differs")}): the data-loss check will fail";
            Emit(new RunbookResumed(Now, from.Phase, from.BaselineAt, from.BaselineRunId, from.HistoryId,
                $"continuing run {from.RunId} at {Checklist.Title(from.Phase)} with the baseline of {from.BaselineAt:yyyy-MM-dd HH:mm:ss}Z (run {from.BaselineRunId}); " +
                "the pre-deployment checks and phase 1 are not run again (they judge the database before the migration, which has started); " +
                "statements the journal shows completed are not run again, one in flight is judged by its postcondition; " + rows));
            // The next process continues from this run's own history entry.
            EmitCheckpoint(from.Phase);
        }

        /// <summary>Phase 2: the migration through the lock-safe executor, with the target's journal.</summary>
        private async Task<bool> MigrationAsync(CancellationToken executorToken) =>
            await PhaseAsync(RunbookPhase.Migration, executorToken, async () =>
            {
                lock (_gate) _watchBlocked = true;
                _migrationRunning = true;
                _samplerSession?.SampleSoon();
                var executor = new LockSafeExecutor(runner._execution, _time);
                ExecutionResult executed;
                try
                {
                    // The executor watches the control itself (it cancels the running statement and cleans up): it gets the caller's token.
                    executed = await executor.RunAsync(new ExecutionRequest(request.TargetConnectionString, request.Script, request.RunId, OnExecution,
                        _history!.Journal(request.Migration, request.Sha256, request.Script, request.RunId), _control, _session), executorToken);
                }
                finally
                {
                    _migrationRunning = false;
                }
                _executed = executed;
                if (executed.Outcome == RunOutcome.Cancelled)
                    _refusedOr = RunbookOutcome.Cancelled;
                if (!executed.Succeeded)
                    _reasons.Add(executed.Failure is { } f
                        ? $"the migration failed at line {f.Statement.Line}{(f.SqlState is { } state ? $" ({state})" : "")}: {f.Message}"
                        : $"the migration was {executed.Outcome.ToString().ToLowerInvariant()}");
                return (executed.Succeeded, $"{executed.StatementsRun} statement(s) in {Durations.Short(executed.Duration)}");
            });

        /// <summary>Phase 3: every concurrently built index valid; the application sessions the migration blocked.</summary>
        private async Task IndexBuildsAsync(CancellationToken cancellationToken) =>
            await PhaseAsync(RunbookPhase.IndexBuilds, cancellationToken, async () =>
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
                int peak, samples, others;
                lock (_gate)
                {
                    _watchBlocked = false;
                    peak = _peakBlocked;
                    others = _peakBlockedByOthers;
                    samples = _blockedSamples;
                }
                var over = $"waiting ≥ {Durations.Short(runner._monitoring.BlockedAfter)} for the migration, directly or in a chain, over {samples} sample(s) " +
                           $"of database {_samplerDatabase} (every {Durations.Short(MigrationInterval)} and at each statement's start and end); " +
                           $"at most {others} waited only for each other";
                Emit(new Measured(Now, RunbookPhase.IndexBuilds, "peak blocked application sessions", samples == 0 ? double.NaN : peak, "sessions",
                    samples == 0 ? "not measured: no sample succeeded during the migration" : over));
                // No sample at all while the migration ran is not "0 blocked": it fails the criterion as not measured.
                _criteria["peak blocked application sessions"] = (samples == 0 ? null : peak, samples == 0 ? "no sample succeeded during the migration" : over);
                return (allValid, allValid ? "every index valid" : "an index is missing or INVALID");
            });

        /// <summary>Phase 4: benchmarks after against the baseline, RLS, index usage, validations, integrity, the application's writes.</summary>
        private async Task ValidationAsync(CancellationToken cancellationToken) =>
            await PhaseAsync(RunbookPhase.Validation, cancellationToken, async () =>
            {
                var baseline = _baseline!;
                var parameters = _parameters;
                if (baseline.Queries.Count > 0)
                    _criteria["query degradation"] = await DegradationRoundsAsync(baseline, parameters, cancellationToken);

                if (request.Runbook.RlsProbe is not null)
                {
                    var probes = new List<double>();
                    for (var round = 1; round <= runner.Rounds; round++)
                    {
                        if (await RlsAsync(RunbookPhase.Validation, parameters, baseline.Control, cancellationToken, $" probe {round}/{runner.Rounds}") is not { } rls)
                            break;
                        var overhead = rls.OverheadMs(baseline.Control);
                        probes.Add(overhead);
                        Observe(Metric.RlsOverheadMs, overhead);
                    }
                    _criteria["RLS overhead"] = (probes.Count == 0 ? null : Stats.Median(probes), $"median of {probes.Count} probe(s); " + (_rlsBefore is { } before
                        ? $"was {before.OverheadMs(baseline.Control):0.00} ms before the migration" : "not measured before the migration"));
                }

                if (request.Runbook.IndexUsage.Count > 0)
                {
                    var usage = await _probes!.IndexUsageAsync(request.Runbook.IndexUsage, parameters, cancellationToken);
                    Emit(new Measured(Now, RunbookPhase.Validation, "index usage", usage.Percent, "%",
                        $"{usage.UsingIndex} of {usage.Queries} analytics queries use an index" +
                        (usage.NotUsingIndex.Count > 0 ? $"; not: {string.Join(" | ", usage.NotUsingIndex)}" : "")));
                    _criteria["index usage"] = (usage.Percent, $"{usage.UsingIndex}/{usage.Queries} queries");
                }

                var validations = await ValidationProbe.RunAsync(request.TargetConnectionString, request.Runbook.Validations, cancellationToken);
                foreach (var v in validations)
                {
                    Emit(new CheckCompleted(Now, RunbookPhase.Validation, new(v.Name, v.Ok ? CheckStatus.Pass : CheckStatus.Fail, v.Detail)));
                    if (!v.Ok) _reasons.Add($"validation failed: {v.Name}: {v.Detail}");
                    Interlocked.Increment(ref v.QueryFailed ? ref _ownFailures : ref _ownCommits);
                }
                if (_kept is { } kept && request.Runbook.RowsAtBaseline is { } rowsSql)
                    await IntegrityAsync(rowsSql, kept, cancellationToken);

                await ApplicationWritesAsync(_countsAtMigration!, _ownCommitsAtMigration, _notValidBefore, cancellationToken);
                var failed = validations.Count(v => !v.Ok);
                return (failed == 0, $"{validations.Count - failed}/{validations.Count} validations hold");
            });

        /// <summary>
        /// Tells the caller where the run stands and what the phases to come need (<see cref="CheckpointReached"/>), once
        /// phase 1's outputs exist. <paramref name="phase"/> is the phase a resumed run continues at.
        /// </summary>
        private void EmitCheckpoint(RunbookPhase phase)
        {
            if (_historyId is not { } id || _baseline is null || _countsAtMigration is null)
                return;
            lock (_gate)
            {
                var checkpoint = new RunbookCheckpoint(RunbookCheckpoint.CurrentFormat, request.Migration, request.Sha256, request.RunId, id, phase,
                    _baselineAt, _baselineRunId, _rollbackBaseline, _countsAtMigration, _ownCommitsAtMigration, OwnCommits(), Interlocked.Read(ref _ownFailures),
                    _notValidBefore.Order().ToList(), _baseline, _rlsBefore, _savedParameters, _kept,
                    new MigrationWatch(_peakBlocked, _peakBlockedByOthers, _blockedSamples, new Dictionary<int, TimeSpan>(_exclusiveHolds)),
                    _criteria.Select(c => new MeasuredCriterion(c.Key, c.Value.Value, c.Value.Detail)).ToList(),
                    [.. _reasons, .. _triggers.Select(TriggerReason)]);
                _checkpointed = true;
                request.OnEvent(new CheckpointReached(Now, checkpoint));
            }
        }

        private static string TriggerReason(ThresholdBreached t) =>
            $"rollback trigger fired: {t.Rule.Describe()} (last {t.Value:0.##}{ThresholdRule.Unit(t.Rule.Metric)})";

        /// <summary>Every statement of the migration has run: in this run, or (resumed past phase 2) in an earlier one.</summary>
        private bool MigrationCompleted => _executed is { Succeeded: true } || _migrationCompletedEarlier;

        private async Task<RunbookResult> VerdictAsync()
        {
            var measured = _criteria;
            var executed = _executed;
            // The sampler is stopped and awaited first: a sample in flight must not be reported after the verdict.
            await StopSamplerAsync();
            var started = _time.GetTimestamp();
            Emit(new PhaseStarted(Now, RunbookPhase.Verdict));
            lock (_gate)
            {
                if (_exclusiveHolds.Count > 0)
                    measured["longest ACCESS EXCLUSIVE hold"] = (_exclusiveHolds.Values.Max().TotalMilliseconds,
                        $"statement #{_exclusiveHolds.MaxBy(h => h.Value).Key}");
                else if (MigrationCompleted)
                    measured["longest ACCESS EXCLUSIVE hold"] = (0, "no statement took ACCESS EXCLUSIVE");
            }
            var criteria = Checklist.SuccessCriteria
                .Where(c => MigrationCompleted || measured.ContainsKey(c.Name))
                .Select(c => measured.TryGetValue(c.Name, out var m) ? new CriterionResult(c, m.Value, m.Detail)
                    : Unmeasurable(c) is { } why ? new CriterionResult(c, null, why, Required: false)
                    : new CriterionResult(c, null, "not measured"))
                .ToList();
            foreach (var c in criteria.Where(c => !c.Passed))
                _reasons.Add($"success criterion not met: {c.Criterion.Describe()} (measured {(c.Measured is { } v ? $"{v:0.##}{c.Criterion.Unit}" : "nothing")})");
            lock (_gate)
                _reasons.AddRange(_triggers.Select(TriggerReason));
            var succeeded = _reasons.Count == 0;
            await RecordAsync(succeeded);
            await DropRowsAtBaselineAsync();
            Emit(new VerdictReached(Now, succeeded, criteria, _reasons.ToList()));
            Emit(new PhaseFinished(Now, RunbookPhase.Verdict, _time.GetElapsedTime(started), succeeded, succeeded ? "success" : $"{_reasons.Count} reason(s) to fail"));
            return new RunbookResult(succeeded ? RunbookOutcome.Succeeded : _refusedOr, _reasons.ToList(), executed);
        }

        /// <summary>The run's outcome in the target's history: whether the migration is applied (all its statements ran), with the verdict as detail.</summary>
        private async Task RecordAsync(bool succeeded)
        {
            if (_historyId is not { } id)
                return;
            var outcome = _executed switch
            {
                _ when MigrationCompleted => HistoryOutcome.Succeeded,
                { Outcome: RunOutcome.Cancelled } => HistoryOutcome.Cancelled,
                null when _refusedOr == RunbookOutcome.Cancelled => HistoryOutcome.Cancelled,
                _ => HistoryOutcome.Failed,
            };
            var detail = succeeded ? "verdict: success" : $"verdict: failed — {string.Join("; ", _reasons)}";
            try
            {
                await _history!.FinishAsync(id, outcome, detail.Length > 2000 ? detail[..2000] + "…" : detail, CancellationToken.None, succeeded);
            }
            catch (NpgsqlException ex)
            {
                // The target is gone: the entry stays "running", and the next run (under the run lock) marks it interrupted and resumes.
                _reasons.Add($"could not record the outcome in chatops.migration_history ({TargetFailureText(ex)}): the next run will treat this one as interrupted");
            }
        }

        /// <summary>
        /// The rows kept at baseline are dropped once nothing can compare against them any more: the migration completed (this
        /// verdict is final), or the run stopped before it offered a checkpoint. A migration that stopped part-way keeps them
        /// for the run that resumes it; a run that measures a new baseline drops them.
        /// </summary>
        private async Task DropRowsAtBaselineAsync()
        {
            if (_kept is not { } kept || !(MigrationCompleted || (!_checkpointed && request.ResumeFrom is null)))
                return;
            try
            {
                await _history!.DropTableAsync(kept.Table, CancellationToken.None);
            }
            catch (NpgsqlException)
            {
                // The target is gone: the table stays until the next run of this migration measures a new baseline (it drops it).
            }
        }

        /// <summary>Transactions the bot has committed on the target so far (probes, samples, the migration's own statements, validations).</summary>
        private long OwnCommits() =>
            (_probes?.Transactions ?? 0) + (_samplerSession?.Transactions ?? 0) + Interlocked.Read(ref _ownCommits);

        /// <summary>Why the runbook gives nothing to measure <paramref name="criterion"/> with, or null when it does.</summary>
        private string? Unmeasurable(SuccessCriterion criterion) => criterion.Name switch
        {
            "query degradation" when request.Runbook.Benchmarks.All(b => b.AfterOnly) => "not measured: the runbook has no benchmark queries to compare",
            "RLS overhead" when request.Runbook.RlsProbe is null => "not measured: the runbook has no rlsProbe",
            "index usage" when request.Runbook.IndexUsage.Count == 0 => "not measured: the runbook has no indexUsage queries",
            _ => null,
        };

        /// <summary>
        /// Before <paramref name="next"/> starts: said (<see cref="PhaseDue"/>, whose handler may hold the run here), then a pause waits.
        /// After the migration's statements started (index builds, validation) any pause waits here, the sampler watching; before them a
        /// plain pause lets the read-only checks and the baseline go on (the executor's own pause holds the first statement), and only
        /// <see cref="ExecutionControl.PauseBeforeNextPhase"/> holds the phase. A stop (abort) ends the run at any phase boundary.
        /// </summary>
        /// <param name="cancellationToken">The run's: a shutdown ends a wait here as it ends any other.</param>
        private async Task BoundaryAsync(RunbookPhase next, CancellationToken cancellationToken)
        {
            Emit(new PhaseDue(Now, next));
            // A run told to stop or cancel ends here, held or not: nobody resumes a run that was told to end. A stop asked while it waits
            // resumes the wait (ExecutionControl.StopAtBoundary), and a stopped control holds no more.
            if (!_control.AtBoundary() && (next > RunbookPhase.Migration || _control.HoldsBeforeAnyPhase))
                await _control.WaitWhilePausedAsync(cancellationToken);
            if (_control.AtBoundary())
                throw new OperationCanceledException(_control.Cancellation);
        }

        private async Task<bool> PhaseAsync(RunbookPhase phase, CancellationToken cancellationToken, Func<Task<(bool Ok, string Summary)>> body)
        {
            // The first phase has nothing before it to hold after; phase 1's boundary is passed before the history is touched.
            if (phase is not (RunbookPhase.PreDeployment or RunbookPhase.Baseline))
                await BoundaryAsync(phase, cancellationToken);
            else if (_control.AtBoundary())
                throw new OperationCanceledException(_control.Cancellation);
            var started = _time.GetTimestamp();
            _phase = phase;
            Emit(new PhaseStarted(Now, phase));
            bool ok;
            string summary;
            try
            {
                (ok, summary) = await body();
            }
            catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException)
            {
                // Every phase that starts also ends: the verdict that follows says why.
                Emit(new PhaseFinished(Now, phase, _time.GetElapsedTime(started), false,
                    ex is OperationCanceledException ? "cancelled" : $"stopped: {TargetFailureText((NpgsqlException)ex)}"));
                throw;
            }
            Emit(new PhaseFinished(Now, phase, _time.GetElapsedTime(started), ok, summary));
            return ok;
        }

        private void OnExecution(ExecutionEvent e)
        {
            Emit(new ExecutionReported(Now, e));
            switch (e)
            {
                case StatementStarted or StatementFinished:
                    // A statement can be over between two interval samples: look at its start and its end too.
                    _samplerSession?.SampleSoon();
                    break;
                case StatementRetried or StatementFailed or RunCancelled { During: not null }:
                    Interlocked.Increment(ref _ownFailures);
                    break;
            }
            // A statement outside a block commits on its own; a block commits once.
            if (e is StatementFinished { Statement: { Block: null } or { Transaction: TransactionControl.Commit } })
                Interlocked.Increment(ref _ownCommits);
            // The hold counts when the server granted ACCESS EXCLUSIVE (read inside the unit's transaction) or the plan says
            // the statement takes it: a measurement can add what the SQL did not show, never take away what it did.
            if (e is StatementFinished f && (f.ExclusiveLocks is { Count: > 0 }
                    || _plan.Statements[f.Statement.Number - 1].StrongestLock == LockMode.AccessExclusive))
                lock (_gate) _exclusiveHolds[f.Statement.Number] = f.LockHeld;
            // What phase 2 measured so far (holds, blocked sessions, the bot's own transactions) survives this process too.
            if (e is StatementFinished)
                EmitCheckpoint(RunbookPhase.Migration);
        }

        /// <summary>
        /// Post-migration benchmark rounds, each judged against the baseline by <see cref="DegradationJudge"/> (work first,
        /// time against noise and the control query); each round's figure feeds the degradation trigger. The criterion is
        /// the median of the rounds.
        /// </summary>
        private async Task<(double? Value, string Detail)> DegradationRoundsAsync(BenchmarkRound baseline, object[] parameters, CancellationToken cancellationToken)
        {
            var readings = new List<DegradationReading>();
            BenchmarkRound after = baseline;
            for (var round = 1; round <= runner.Rounds; round++)
            {
                after = await _probes!.BenchmarksAsync(request.Runbook, parameters, after: true, runner.BenchmarkRuns, cancellationToken);
                var reading = DegradationJudge.Judge(baseline.Queries, baseline.Control, after.Queries, after.Control);
                readings.Add(reading);
                var regressed = reading.Queries.Where(q => q.Regressed).Select(q => q.Name).ToList();
                Emit(new Measured(Now, RunbookPhase.Validation, $"benchmark round {round}", reading.Percent, "%",
                    (regressed.Count == 0 ? "no query regressed" : $"regressed: {string.Join(", ", regressed)}") +
                    $"; {reading.BeforeMs:0.000} ms at baseline, control query ×{reading.ControlRatio:0.00}"));
                foreach (var q in reading.Queries.Where(q => q.Regressed))
                    Emit(new Measured(Now, RunbookPhase.Validation, $"round {round}: {q.Name}", q.AfterMs, "ms", q.Why));
                Observe(Metric.QueryDegradationPercent, reading.Percent);
            }
            var last = readings[^1];
            foreach (var a in after.Queries)
            {
                var judged = last.Queries.FirstOrDefault(q => q.Name == a.Name);
                Emit(new Measured(Now, RunbookPhase.Validation, $"after: {a.Name}", a.MedianMs, "ms",
                    judged?.Why ?? $"new query (after the migration only): buffers {a.Buffers:N0}, {string.Join(" + ", a.AccessPaths.DefaultIfEmpty("no scan"))}"));
            }
            var median = Stats.Median(readings.Select(r => r.Percent));
            return (median, $"median of {readings.Count} rounds ({string.Join(", ", readings.Select(r => $"{r.Percent:0.#} %"))}); " +
                            "a query counts only when its plan or buffers changed and its time rose beyond its baseline's noise and the control's");
        }

        private async Task<RlsOverhead?> RlsAsync(RunbookPhase phase, object[] parameters, QueryMeasurement? baselineControl, CancellationToken cancellationToken, string label = "")
        {
            if (request.Runbook.RlsProbe is not { } probe)
                return null;
            try
            {
                // Before the migration the probe query may need columns that do not exist yet.
                if (phase == RunbookPhase.Baseline && probe.SqlBefore is { } before)
                    probe = probe with { Sql = before };
                var rls = await _probes!.RlsOverheadAsync(probe, parameters, runner.BenchmarkRuns, cancellationToken);
                var control = baselineControl is null ? 1 : DegradationJudge.ControlRatio(baselineControl, rls.Control);
                Emit(new Measured(Now, phase, "RLS overhead" + label, rls.OverheadMs(baselineControl), "ms",
                    $"{rls.AsRole.MedianMs:0.000} ms as {probe.Role} (buffers {rls.AsRole.Buffers:N0}) vs {rls.AsOwner.MedianMs:0.000} ms as owner " +
                    $"(buffers {rls.AsOwner.Buffers:N0}), median of {rls.Runs} paired differences {rls.PairedOverheadMs:0.000} ms, control query ×{control:0.00}: {probe.Sql}"));
                return rls;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedObject)
            {
                Interlocked.Increment(ref _ownFailures);
                Emit(new Measured(Now, phase, "RLS overhead", double.NaN, "ms", $"not measurable: {ex.MessageText}"));
                return null;
            }
        }

        /// <summary>
        /// "No data loss": the rows kept at baseline (one snapshot's keys) against the same query now. A row the
        /// application deleted meanwhile is not lost; one is lost only when the migration itself can remove rows.
        /// </summary>
        private async Task IntegrityAsync(string rowsSql, KeptRows kept, CancellationToken cancellationToken)
        {
            var atBaseline = kept.Count;
            long gone;
            try
            {
                // The kept rows must be the ones phase 1 kept (a resumed run reads them after another process wrote them).
                var now = await _probes!.KeptRowsAsync(kept.Table, cancellationToken);
                var changed = now is null ? $"{kept.Table} is gone"
                    : now.Count != kept.Count || now.Checksum != kept.Checksum
                        ? $"{kept.Table} changed since the baseline ({now.Count:N0} rows, {kept.Count:N0} then; checksum {(now.Checksum == kept.Checksum ? "same" : "differs")})"
                        : null;
                if (changed is not null)
                {
                    Emit(new CheckCompleted(Now, RunbookPhase.Validation, new("no data loss", CheckStatus.Fail,
                        $"not measured: the rows kept at baseline cannot be trusted: {changed}")));
                    _reasons.Add($"no data loss could not be checked: the rows kept at baseline cannot be trusted: {changed}");
                    return;
                }
                gone = await _probes.RowsGoneSinceBaselineAsync(rowsSql, kept.Table, cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                // A lost session (an idle timeout, a proxy) or a changed key column.
                Emit(new CheckCompleted(Now, RunbookPhase.Validation, new("no data loss", CheckStatus.Fail, $"not measured: the rows kept at baseline could not be compared ({ex.Message})")));
                _reasons.Add($"no data loss could not be checked: {ex.Message}");
                return;
            }
            var table = request.Runbook.Table is { } t ? DbObjectName.Parse(t) : null;
            var migrationRemoves = _plan.CanRemoveRowsFrom(table);
            var remain = $"{atBaseline - gone:N0} of the {atBaseline:N0} rows that existed at baseline remain";
            CheckResult check = gone == 0
                ? new("no data loss", CheckStatus.Pass, $"{remain}; 0 lost")
                : migrationRemoves
                    ? new("no data loss", CheckStatus.Fail, $"{remain}; {gone:N0} gone, and the migration itself can delete from {table?.ToString() ?? "a table"}: check them")
                    : new("no data loss", CheckStatus.Pass, $"{remain}; {gone:N0} deleted by the application, 0 lost (the migration deletes no rows)");
            Emit(new CheckCompleted(Now, RunbookPhase.Validation, check));
            if (check.Status == CheckStatus.Fail)
                _reasons.Add($"data changed: {gone:N0} of {atBaseline:N0} baseline rows are gone and the migration deletes rows");
        }

        /// <summary>
        /// The application's writes after the migration: <c>NOT VALID</c> checks that existing rows violate (every UPDATE
        /// of them fails), and the application's failure rate from the migration's start to now against its normal one.
        /// </summary>
        private async Task ApplicationWritesAsync(TransactionCounts atMigration, long ownCommitsAtMigration, IReadOnlySet<uint> notValidBefore, CancellationToken cancellationToken)
        {
            var violated = await ConstraintProbe.FindAsync(_probes!.Connection, notValidBefore, cancellationToken);
            _probes.CountTransaction();
            foreach (var v in violated)
            {
                var rows = $"{(v.AtLeast ? "at least " : "")}{v.Rows:N0}";
                Emit(new CheckCompleted(Now, RunbookPhase.Validation, new($"constraint {v.Constraint}", CheckStatus.Fail,
                    $"NOT VALID on {v.Table}, and {rows} existing row(s) violate CHECK ({v.Check}): every application UPDATE of them fails")));
                _reasons.Add($"application writes fail: {rows} row(s) of {v.Table} violate the NOT VALID constraint {v.Constraint}; fix them, then VALIDATE it");
            }

            var during = await TransactionCounters.ReadAsync(_probes.Connection, cancellationToken) - atMigration;
            var allowed = _monitor.Rules.FirstOrDefault(r => r.Metric == Metric.RollbackRatioIncreasePoints)?.Value ?? 5;
            var rate = FailureRateJudge.Judge(during, Interlocked.Read(ref _ownFailures), OwnCommits() - ownCommitsAtMigration, _rollbackBaseline, allowed);
            Emit(new CheckCompleted(Now, RunbookPhase.Validation, new("application failure rate", rate.Rose ? CheckStatus.Fail : CheckStatus.Pass,
                $"since the migration started: {rate.Detail}")));
            if (rate.Rose)
                _reasons.Add($"the application's failure rate rose during the migration: {rate.Detail}");
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

        /// <summary>The sampling interval while the migration's statements run.</summary>
        private TimeSpan MigrationInterval => runner._monitoring.MigrationSampleInterval < runner._monitoring.SampleInterval
            ? runner._monitoring.MigrationSampleInterval : runner._monitoring.SampleInterval;

        private async Task StartSamplerAsync(CancellationToken cancellationToken)
        {
            var sampler = await MetricSampler.OpenAsync(request.TargetConnectionString, request.RunId, _time, cancellationToken, runner._monitoring.BlockedAfter);
            _samplerSession = sampler;
            var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _samplerStop.Token);
            _sampler = Task.Run(async () =>
            {
                try
                {
                    await using (sampler)
                        await sampler.RunAsync(() => _migrationRunning ? MigrationInterval : runner._monitoring.SampleInterval, OnReading, stop.Token);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The sampler must not take the verdict down with it: what it could not see is a reason, not a crash.
                    lock (_gate) _reasons.Add($"monitoring stopped during the run: {ex.Message}");
                }
                finally
                {
                    stop.Dispose();
                }
            }, CancellationToken.None);
        }

        private void OnReading(MonitoringReading reading)
        {
            lock (_gate)
            {
                request.OnEvent(new Sampled(reading.At, reading));
                if (reading is MetricSample sample)
                {
                    _samplerDatabase = sample.Database;
                    if (_watchBlocked)
                    {
                        _blockedSamples++;
                        _peakBlocked = Math.Max(_peakBlocked, sample.BlockedByMigration);
                        _peakBlockedByOthers = Math.Max(_peakBlockedByOthers, sample.BlockedByOthers);
                    }
                    Report(_monitor.Observe(sample, _rollbackBaseline));
                }
                else if (reading is SampleGap gap)
                {
                    // A failed sample may have aborted the sampler's own transaction (its statement timeout).
                    Interlocked.Increment(ref _ownFailures);
                    Report(_monitor.ObserveGap(gap));
                }
            }
        }

        private async Task StopSamplerAsync()
        {
            await _samplerStop.CancelAsync();
            if (_sampler is not null)
                await _sampler;
        }

        private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
            TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}:check", cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await StopSamplerAsync();
            _samplerStop.Dispose();
            if (_probes is not null)
                await _probes.Connection.DisposeAsync();
            if (_history is not null)
                await _history.DisposeAsync();
            if (_session is not null)
                await _session.DisposeAsync();   // ends the run's session: releases the run lock
        }
    }
}
