using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Options;
using Npgsql;

namespace ChatOps.Postgres.Execution;

/// <summary>What to run, where, and who hears about it.</summary>
/// <param name="RunId">Names the executor's sessions <c>chatops:&lt;run id&gt;</c> so monitoring can tell them from the application's.</param>
/// <param name="Journal">Where completions are recorded; a journal with completions resumes after them.</param>
/// <param name="Control">Pause, resume and cancel from outside.</param>
/// <param name="Session">The run's own session, opened by the caller, who took the target's run lock in it and keeps it for longer
/// than the script (a runbook holds it from its checks to its verdict): the statements run in it and it is left open. Without one,
/// the executor opens a session and takes the run lock itself.</param>
public sealed record ExecutionRequest(
    string TargetConnectionString,
    SqlScript Script,
    string RunId,
    Action<ExecutionEvent> OnEvent,
    IExecutionJournal? Journal = null,
    ExecutionControl? Control = null,
    NpgsqlConnection? Session = null);

/// <summary>The outcome of a script run.</summary>
public sealed record ExecutionResult(RunOutcome Outcome, int StatementsRun, TimeSpan Duration, StatementFailed? Failure)
{
    public bool Succeeded => Outcome == RunOutcome.Succeeded;
}

/// <summary>
/// Runs a migration script without ever queuing the application behind it. Every statement that takes a
/// table lock runs with a short <c>lock_timeout</c>; before each attempt it looks for sessions holding a
/// conflicting lock inside an old (or idle) transaction and waits for them rather than knocking — each
/// failed attempt makes the application's queries on the table wait up to the lock timeout. On a lock
/// timeout it backs off and retries (a transaction block as a whole) within the retry budget.
/// CONCURRENTLY statements run alone in autocommit with no lock timeout: they wait for older transactions
/// by design and block no application query.
/// </summary>
public sealed class LockSafeExecutor(ExecutionOptions options, TimeProvider timeProvider, Random? random = null)
{
    /// <summary>How often to look again while waiting for blockers.</summary>
    public static readonly TimeSpan BlockerPollInterval = TimeSpan.FromMilliseconds(250);

    private readonly ExecutionOptions _options = options;
    private readonly TimeProvider _time = timeProvider;
    private readonly LockRetryBackoff _backoff = new(random ?? Random.Shared);

    public async Task<ExecutionResult> RunAsync(ExecutionRequest request, CancellationToken cancellationToken)
    {
        var run = new Run(this, request);
        try
        {
            return await run.ExecuteAsync(cancellationToken);
        }
        finally
        {
            await run.DisposeAsync();
        }
    }

    /// <summary>One run: its sessions and state.</summary>
    private sealed class Run(LockSafeExecutor executor, ExecutionRequest request) : IAsyncDisposable
    {
        private readonly ExecutionOptions _options = executor._options;
        private readonly TimeProvider _time = executor._time;
        private readonly ExecutionControl _control = request.Control ?? new ExecutionControl();
        private readonly IExecutionJournal _journal = request.Journal ?? new InMemoryExecutionJournal();
        // Analysed again once the target's catalog is read (foreign keys, indexes' tables): the waits cover what it names.
        private Dictionary<int, StatementAnalysis> _analysis =
            StatementAnalyzer.AnalyzeScript(request.Script).ToDictionary(a => a.Statement.Number);
        private NpgsqlConnection? _session;
        private NpgsqlConnection? _watch;
        private TargetCatalog? _catalog;
        private SqlStatement? _current;
        private int[] _ownPids = [];
        private CancellationTokenRegistration _cancelHook;

        private void Emit(ExecutionEvent e) => request.OnEvent(e);
        private void OnNotice(object sender, NpgsqlNoticeEventArgs e) => Emit(new NoticeReceived(Now, _current, e.Notice.Severity, e.Notice.MessageText));
        private DateTimeOffset Now => _time.GetUtcNow();

        public async Task<ExecutionResult> ExecuteAsync(CancellationToken cancellationToken)
        {
            var started = _time.GetTimestamp();
            _session = request.Session ?? await OpenAsync($"chatops:{request.RunId}", cancellationToken);
            _watch = await OpenAsync($"chatops:{request.RunId}:watch", cancellationToken);
            _catalog = new TargetCatalog(_watch);
            _analysis = StatementAnalyzer.AnalyzeScript(request.Script, await CatalogFactsReader.ReadAsync(_watch, cancellationToken))
                .ToDictionary(a => a.Statement.Number);
            _ownPids = [_session.ProcessID, _watch.ProcessID];
            _session.Notice += OnNotice;

            if (request.Session is null)
                await TargetRunLock.AcquireAsync(_session, cancellationToken);
            await ExecAsync(_session, $"SET statement_timeout = {Milliseconds(_options.StatementTimeout)}", cancellationToken);
            if (_options.IndexBuildWorkers is { } workers)
                await ExecAsync(_session, $"SET max_parallel_maintenance_workers = {workers}", cancellationToken);
            // A cancel interrupts the running statement the way an operator would: pg_cancel_backend.
            _cancelHook = _control.Cancellation.Register(() => _ = CancelBackendAsync());

            var completed = await _journal.CompletedAsync(cancellationToken);
            Emit(new RunStarted(Now, request.RunId, request.Script.Statements.Count, completed.Count));
            var interrupted = (await _journal.InterruptedAsync(cancellationToken)).ToHashSet();

            var ran = 0;
            foreach (var unit in Units(request.Script))
            {
                if (unit.All(s => completed.ContainsKey(s.Number)))
                {
                    foreach (var s in unit)
                        Emit(new StatementSkipped(Now, s, "completed in an earlier run (journal)"));
                    continue;
                }
                if (unit.Count == 1 && interrupted.Contains(unit[0].Number) && await InterruptedButDoneAsync(unit[0], cancellationToken))
                    continue;

                if (_control.IsPaused && !_control.IsStopRequested)
                {
                    Emit(new RunPaused(Now, unit[0]));
                    await _control.WaitWhilePausedAsync(cancellationToken);
                    if (!_control.IsCancelRequested && !_control.IsStopRequested)
                        Emit(new RunResumed(Now));
                }
                if (_control.AtBoundary())
                    return Finish(RunOutcome.Cancelled, ran, started, null, cancelledDuring: null);

                await _journal.StartedAsync(unit, cancellationToken);
                var outcome = await RunUnitAsync(unit, cancellationToken);
                if (outcome is UnitOutcome.Failed failed)
                    return Finish(RunOutcome.Failed, ran, started, failed.Failure, null);
                if (outcome is UnitOutcome.Cancelled cancelled)
                    return Finish(RunOutcome.Cancelled, ran, started, null, cancelled.During);
                ran += unit.Count;
            }
            return Finish(RunOutcome.Succeeded, ran, started, null, null);
        }

        private ExecutionResult Finish(RunOutcome outcome, int ran, long started, StatementFailed? failure, SqlStatement? cancelledDuring)
        {
            var duration = _time.GetElapsedTime(started);
            if (outcome == RunOutcome.Cancelled)
                Emit(new RunCancelled(Now, cancelledDuring));
            Emit(new RunFinished(Now, outcome, duration, ran));
            return new ExecutionResult(outcome, ran, duration, failure);
        }

        /// <summary>A statement a crash interrupted: skip it when the catalog shows it took effect.</summary>
        private async Task<bool> InterruptedButDoneAsync(SqlStatement statement, CancellationToken cancellationToken)
        {
            var postconditions = _analysis[statement.Number].Postconditions;
            var verdict = await _catalog!.JudgeAsync(postconditions, cancellationToken);
            if (verdict != PostconditionVerdict.Done)
                return false;
            var describe = string.Join("; ", postconditions.Select(p => p.Describe()));
            await _journal.CompletedAsync(new JournalEntry(statement.Number, statement.Line, Now, describe, verdict), cancellationToken);
            Emit(new StatementSkipped(Now, statement, $"interrupted in an earlier run, but it took effect: {describe}"));
            return true;
        }

        private abstract record UnitOutcome
        {
            public sealed record Done : UnitOutcome;
            public sealed record Failed(StatementFailed Failure) : UnitOutcome;
            public sealed record Cancelled(SqlStatement During) : UnitOutcome;
        }

        private async Task<UnitOutcome> RunUnitAsync(IReadOnlyList<SqlStatement> unit, CancellationToken cancellationToken)
        {
            var first = unit[0];
            var autocommitOnly = unit.Count == 1 && first.RequiresAutocommit;
            var locks = unit.SelectMany(s => _analysis[s.Number].Locks).ToList();
            var unitStarted = _time.GetTimestamp();
            var lockWait = TimeSpan.Zero;

            if (autocommitOnly && _analysis[first.Number] is { Kind: "CREATE INDEX CONCURRENTLY" } build)
                await DropInvalidLeftoverAsync(first, build, cancellationToken);

            for (var attempt = 1; ; attempt++)
            {
                if (!autocommitOnly && locks.Count > 0)
                {
                    var waited = await WaitForBlockersAsync(first, locks, unitStarted, attempt - 1, cancellationToken);
                    if (waited.Failure is { } exhausted)
                        return new UnitOutcome.Failed(exhausted);
                    if (waited.Cancelled)
                        return new UnitOutcome.Cancelled(first);
                    lockWait += waited.Waited;
                }

                var lockTimeout = _options.LockTimeout;
                if (!autocommitOnly && locks.Count > 0)
                    lockTimeout = await MakeWayThroughAutovacuumAsync(first, locks, lockTimeout, cancellationToken);
                await ExecAsync(_session!, $"SET lock_timeout = {(autocommitOnly ? 0 : Milliseconds(lockTimeout))}", cancellationToken);
                var attemptStarted = _time.GetTimestamp();
                UnitRun executed;
                try
                {
                    executed = autocommitOnly || !Batchable(unit)
                        ? await RunOneByOneAsync(unit, attempt, cancellationToken)
                        : await RunAsBatchAsync(unit, attempt, cancellationToken);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && !autocommitOnly && !_control.IsCancelRequested)
                {
                    await RollbackIfInBlockAsync(unit, cancellationToken);
                    lockWait += _time.GetElapsedTime(attemptStarted);
                    var sleep = executor._backoff.After(attempt);
                    var holders = await _catalog!.BlockersAsync(locks, _ownPids, TimeSpan.Zero, cancellationToken);
                    if (_time.GetElapsedTime(unitStarted) + sleep > _options.LockRetryBudget)
                        return new UnitOutcome.Failed(BudgetSpent(first, attempt, unitStarted, holders));
                    Emit(new StatementRetried(Now, first, attempt, sleep, holders));
                    if (!await SleepAsync(sleep, cancellationToken))
                        return new UnitOutcome.Cancelled(first);
                    lockWait += sleep;
                    continue;
                }
                catch (PostgresException ex)
                {
                    var failedStatement = _current ?? first;
                    await RollbackIfInBlockAsync(unit, cancellationToken);
                    if (_control.IsCancelRequested && ex.SqlState == PostgresErrorCodes.QueryCanceled)
                    {
                        await CleanUpCancelledBuildAsync(failedStatement, cancellationToken);
                        return new UnitOutcome.Cancelled(failedStatement);
                    }
                    var message = ex.MessageText + (ex.Detail is { Length: > 0 } d ? $" ({d})" : "");
                    if (_analysis[failedStatement.Number].Kind == "CREATE INDEX CONCURRENTLY")
                        message += " — an INVALID index may be left behind; the next run drops it before rebuilding";
                    if (ex.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow)
                        message = $"the server ended the session ({message}): the statement did not complete; run again to resume after what completed";
                    var failure = new StatementFailed(Now, failedStatement, ex.SqlState, message, []);
                    Emit(failure);
                    return new UnitOutcome.Failed(failure);
                }
                catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // The connection itself is gone (the server stopped, the network dropped): whether the statement committed
                    // is unknown here; the journal marks it started, and a resumed run judges it by its postcondition.
                    var failure = new StatementFailed(Now, _current ?? first, null,
                        $"lost the connection to the target ({ex.Message}{(ex.InnerException is { } inner ? $": {inner.Message}" : "")}): " +
                        "whether the statement took effect is unknown; run again to resume (a statement that took effect is skipped)", []);
                    Emit(failure);
                    return new UnitOutcome.Failed(failure);
                }
                finally
                {
                    _current = null;
                }

                var finished = executed.Finished;
                var held = executed.Held;
                var total = _time.GetElapsedTime(unitStarted);
                foreach (var (statement, duration, rows) in finished)
                {
                    var isFirst = statement == first;
                    var verdict = await _catalog!.JudgeAsync(_analysis[statement.Number].Postconditions, cancellationToken);
                    var describe = _analysis[statement.Number].Postconditions.Count == 0
                        ? null : string.Join("; ", _analysis[statement.Number].Postconditions.Select(p => p.Describe()));
                    await _journal.CompletedAsync(new JournalEntry(statement.Number, statement.Line, Now, describe, verdict), cancellationToken);
                    Emit(new StatementFinished(Now, statement,
                        isFirst ? total - finished.Skip(1).Aggregate(TimeSpan.Zero, (sum, f) => sum + f.Duration) : duration,
                        isFirst ? lockWait : TimeSpan.Zero,
                        _analysis[statement.Number].Locks.Count > 0 || executed.ExclusiveLocks is { Count: > 0 } ? held : TimeSpan.Zero,
                        rows, attempt, executed.ExclusiveLocks));
                }
                return new UnitOutcome.Done();
            }
        }

        /// <summary>What one attempt at a unit did: each statement's time and rows, how long its locks were held, and
        /// the tables the server granted ACCESS EXCLUSIVE (null when not measured).</summary>
        private sealed record UnitRun(List<(SqlStatement Statement, TimeSpan Duration, long Rows)> Finished, TimeSpan Held, IReadOnlyList<string>? ExclusiveLocks);

        // Relations created from here on get OIDs above this floor (the OID counter only grows, short of a wraparound):
        // recorded before the unit's statements so a table the unit creates is not counted as a hold on the application.
        private const string OidFloorSql = "SELECT set_config('chatops.oid_floor', (SELECT max(oid)::text FROM pg_class), true) AS chatops_floor";

        // The relations this session holds in ACCESS EXCLUSIVE right now — tables, indexes (which the planner needs), views,
        // and relations the unit dropped (shown by OID) — read inside the unit's transaction before it commits.
        private const string ExclusiveLocksSql = """
            SELECT coalesce(array_agg(coalesce(c.oid::regclass::text, l.relation::text) ORDER BY l.relation), '{}') AS chatops_locks
            FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
              AND l.relation <= current_setting('chatops.oid_floor')::oid
            """;

        private const string ClockSql = "SELECT clock_timestamp() AS chatops_clock";

        /// <summary>
        /// A unit goes to the server as one batch — one round trip, so its locks are held for the statements' own time — when
        /// every statement is one the analyzer knows to run inside a transaction block, and the block does not set its own
        /// isolation (a query before <c>SET TRANSACTION</c> would refuse it). Anything else runs statement by statement.
        /// </summary>
        private bool Batchable(IReadOnlyList<SqlStatement> unit) =>
            unit.All(s => _analysis[s.Number] is { CanRunInTransaction: true, LockUnknown: false }
                          && !s.StartsWith("CALL") && !(s.StartsWith("DO") && ControlsTransactions(s))
                          && !s.StartsWith("SET", "TRANSACTION") && !s.StartsWith("SET", "SESSION", "CHARACTERISTICS")
                          && !(s.Transaction == TransactionControl.Begin && s.Tokens.Count > 2));

        private static bool ControlsTransactions(SqlStatement statement) =>
            statement.Tokens.Any(t => t.Kind == SqlTokenKind.String
                && SqlLexer.Tokenize(t.Value).Any(x => x.Is("COMMIT") || x.Is("ROLLBACK")));

        /// <summary>Each statement its own command (CONCURRENTLY and VACUUM alone in autocommit, and units that cannot be batched).</summary>
        private async Task<UnitRun> RunOneByOneAsync(IReadOnlyList<SqlStatement> unit, int attempt, CancellationToken cancellationToken)
        {
            var finished = new List<(SqlStatement Statement, TimeSpan Duration, long Rows)>();
            long? firstLockTaken = null;
            foreach (var statement in unit)
            {
                _current = statement;
                Emit(new StatementStarted(Now, statement, attempt));
                var statementStarted = _time.GetTimestamp();
                if (firstLockTaken is null && _analysis[statement.Number].Locks.Count > 0)
                    firstLockTaken = statementStarted;
                await using var command = new NpgsqlCommand(statement.Text, _session);
                var rows = await command.ExecuteNonQueryAsync(cancellationToken);
                finished.Add((statement, _time.GetElapsedTime(statementStarted), rows));
            }
            // Locks are held from the first locking statement to the end of the unit (its commit).
            return new UnitRun(finished, firstLockTaken is { } t ? _time.GetElapsedTime(t) : TimeSpan.Zero, null);
        }

        /// <summary>
        /// The unit in one round trip, always as an explicit transaction (the script's own BEGIN … COMMIT, or one around a
        /// single statement — which is what autocommit does): <c>clock_timestamp()</c> after BEGIN, after each statement and
        /// after COMMIT times each statement and the hold, commit included, on the server's clock; <c>pg_locks</c>, read just
        /// before COMMIT, says which relations the server granted ACCESS EXCLUSIVE — measured, not inferred from the SQL.
        /// </summary>
        private async Task<UnitRun> RunAsBatchAsync(IReadOnlyList<SqlStatement> unit, int attempt, CancellationToken cancellationToken)
        {
            await using var batch = new NpgsqlBatch(_session);
            var roles = new List<SqlStatement?>();
            void Add(string sql, SqlStatement? statement = null)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(sql));
                roles.Add(statement);
            }
            var block = unit[0].Transaction == TransactionControl.Begin;
            var inner = unit.Where(s => s.Transaction == TransactionControl.None).ToList();
            if (block) Add(unit[0].Text, unit[0]); else Add("BEGIN");
            Add(OidFloorSql);
            Add(ClockSql);
            foreach (var statement in inner)
            {
                Add(statement.Text, statement);
                Add(ClockSql);
            }
            Add(ExclusiveLocksSql);
            var end = block ? unit[^1] : null;
            if (end is not null) Add(end.Text, end); else Add("COMMIT");
            var committedAt = roles.Count - 1;
            Add(ClockSql);

            foreach (var statement in unit)
                Emit(new StatementStarted(Now, statement, attempt));
            var clocks = new List<DateTime>();
            string[]? exclusive = null;
            _current = inner.FirstOrDefault() ?? unit[0];
            // The batch opens its own transaction: a failure inside it leaves the session in an aborted transaction to roll back.
            _batchOpen = true;
            try
            {
                await ReadAsync();
                _batchOpen = false;
            }
            catch (PostgresException ex) when (ex.BatchCommand is { } failed && batch.BatchCommands.IndexOf(failed) is >= 0 and var at)
            {
                // Past COMMIT the unit took effect (a cancel that lands on the last clock changes nothing): done.
                if (at <= committedAt)
                {
                    _current = roles[at] ?? roles.Take(at).LastOrDefault(r => r is not null) ?? unit[0];
                    throw;
                }
                _batchOpen = false;
            }

            async Task ReadAsync()
            {
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                do
                {
                    // Only the markers return rows, and they say which they are; a NOTICE belongs to the statement after the last clock.
                    if (reader.FieldCount == 0 || !await reader.ReadAsync(cancellationToken))
                        continue;
                    if (reader.GetName(0) == "chatops_clock")
                    {
                        clocks.Add(reader.GetDateTime(0));
                        _current = clocks.Count <= inner.Count ? inner[clocks.Count - 1] : end;
                    }
                    else if (reader.GetName(0) == "chatops_locks")
                    {
                        exclusive = reader.GetFieldValue<string[]>(0);
                    }
                }
                while (await reader.NextResultAsync(cancellationToken));
            }

            // Inner statement k ran between clock k and clock k + 1; BEGIN takes no time worth showing; COMMIT (with the
            // lock read before it) runs between the last statement's clock and the one after COMMIT.
            var finished = new List<(SqlStatement Statement, TimeSpan Duration, long Rows)>();
            TimeSpan Between(int from, int to) => to < clocks.Count && from >= 0 ? clocks[to] - clocks[from] : TimeSpan.Zero;
            if (block) finished.Add((unit[0], TimeSpan.Zero, -1));
            for (var k = 0; k < inner.Count; k++)
            {
                var rows = batch.BatchCommands[roles.IndexOf(inner[k])].RecordsAffected;
                finished.Add((inner[k], Between(k, k + 1), rows >= 0 ? rows : -1));
            }
            if (end is not null) finished.Add((end, Between(inner.Count, inner.Count + 1), -1));

            // Held from the start of the first statement that takes ACCESS EXCLUSIVE (or of the unit, when the server shows
            // one the SQL did not) to the end of COMMIT. A unit that holds no ACCESS EXCLUSIVE reports the time of its locks as before.
            var firstExclusive = inner.FindIndex(s => _analysis[s.Number].OwnLocks.Any(l => l.Mode == LockMode.AccessExclusive));
            var firstLock = inner.FindIndex(s => _analysis[s.Number].OwnLocks.Count > 0);
            var from = firstExclusive >= 0 ? firstExclusive : exclusive is { Length: > 0 } ? 0 : firstLock;
            var held = from >= 0 && clocks.Count > from ? clocks[^1] - clocks[from] : TimeSpan.Zero;
            return new UnitRun(finished, held, exclusive);
        }

        /// <summary>
        /// An ordinary autovacuum holding a lock the unit needs is cancelled, as PostgreSQL itself does for a lock request that
        /// waits <c>deadlock_timeout</c> behind it — at once, so the application never queues behind our attempt meanwhile.
        /// Without the right to signal it (only superusers may signal autovacuum workers on PostgreSQL 15), the attempt's lock
        /// timeout is stretched past <c>deadlock_timeout</c> so that PostgreSQL does it. Returns the attempt's lock timeout.
        /// </summary>
        private async Task<TimeSpan> MakeWayThroughAutovacuumAsync(SqlStatement statement, List<TableLock> locks, TimeSpan lockTimeout, CancellationToken cancellationToken)
        {
            foreach (var (worker, wraparound) in await _catalog!.AutovacuumInTheWayAsync(locks, cancellationToken))
            {
                if (wraparound)
                    continue;   // a blocker like any other: WaitForBlockersAsync waits for it and says so
                var cancelled = false;
                try
                {
                    await using var cancel = new NpgsqlCommand("SELECT pg_cancel_backend($1)", _watch);
                    cancel.Parameters.Add(new NpgsqlParameter { Value = worker.Pid });
                    cancelled = (bool)(await cancel.ExecuteScalarAsync(cancellationToken))!;
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
                {
                    _deadlockTimeout ??= TimeSpan.FromMilliseconds(await ScalarIntAsync("SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout'", cancellationToken));
                    var stretched = _deadlockTimeout.Value + _options.LockTimeout;
                    if (stretched > lockTimeout) lockTimeout = stretched;
                }
                Emit(new AutovacuumInTheWay(Now, statement, worker, Wraparound: false, cancelled));
            }
            return lockTimeout;
        }

        private TimeSpan? _deadlockTimeout;

        private async Task<int> ScalarIntAsync(string sql, CancellationToken cancellationToken)
        {
            await using var command = new NpgsqlCommand(sql, _watch);
            return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        private readonly record struct BlockerWait(TimeSpan Waited, StatementFailed? Failure, bool Cancelled);

        /// <summary>Don't knock while someone is inside: wait while sessions hold conflicting locks in old or idle transactions.</summary>
        private async Task<BlockerWait> WaitForBlockersAsync(SqlStatement statement, List<TableLock> locks, long unitStarted, int attempts, CancellationToken cancellationToken)
        {
            var waitStarted = _time.GetTimestamp();
            string? reported = null;
            while (true)
            {
                var blockers = await _catalog!.BlockersAsync(locks, _ownPids, _options.LockTimeout, cancellationToken);
                if (blockers.Count == 0)
                    return new BlockerWait(reported is null ? TimeSpan.Zero : _time.GetElapsedTime(waitStarted), null, false);

                var who = string.Join(",", blockers.Select(b => b.Pid));
                if (who != reported)
                {
                    Emit(new WaitingForBlockers(Now, statement, blockers));
                    foreach (var worker in blockers.Where(b => b.Query.StartsWith("autovacuum:", StringComparison.Ordinal) && b.Query.Contains("to prevent wraparound", StringComparison.Ordinal)))
                        Emit(new AutovacuumInTheWay(Now, statement, worker, Wraparound: true, Cancelled: false));
                    reported = who;
                }
                if (_time.GetElapsedTime(unitStarted) + BlockerPollInterval > _options.LockRetryBudget)
                    return new BlockerWait(_time.GetElapsedTime(waitStarted), BudgetSpent(statement, attempts, unitStarted, blockers), false);
                if (!await SleepAsync(BlockerPollInterval, cancellationToken))
                    return new BlockerWait(_time.GetElapsedTime(waitStarted), null, true);
            }
        }

        private StatementFailed BudgetSpent(SqlStatement statement, int attempts, long unitStarted, IReadOnlyList<BlockingSession> blockers)
        {
            var spent = _time.GetElapsedTime(unitStarted);
            var who = blockers.Count == 0 ? "no session holds a conflicting lock any more" : string.Join("; ", blockers.Select(b => b.Describe()));
            var failure = new StatementFailed(Now, statement, PostgresErrorCodes.LockNotAvailable,
                $"gave up waiting for locks after {Durations.Short(spent)} ({attempts} attempt(s); ChatOps:Execution:LockRetryBudget is {_options.LockRetryBudget}). Blocked by {who}",
                blockers);
            Emit(failure);
            return failure;
        }

        /// <summary>Sleeps; false when a cancel came first.</summary>
        private async Task<bool> SleepAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _control.Cancellation);
            try
            {
                await Task.Delay(delay, _time, linked.Token);
                return true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }

        private async Task DropInvalidLeftoverAsync(SqlStatement statement, StatementAnalysis build, CancellationToken cancellationToken)
        {
            foreach (var index in build.Postconditions.OfType<IndexValid>().Select(p => p.Index))
            {
                if (!await _catalog!.IsInvalidIndexAsync(index, cancellationToken))
                    continue;
                await ExecAsync(_session!, "SET lock_timeout = 0", cancellationToken);
                await ExecAsync(_session!, $"DROP INDEX CONCURRENTLY IF EXISTS {index}", cancellationToken);
                Emit(new InvalidIndexDropped(Now, statement, index.ToString()));
            }
        }

        private async Task CleanUpCancelledBuildAsync(SqlStatement statement, CancellationToken cancellationToken)
        {
            if (_analysis[statement.Number] is { Kind: "CREATE INDEX CONCURRENTLY" } build)
                await DropInvalidLeftoverAsync(statement, build, cancellationToken);
        }

        private bool _batchOpen;

        private async Task RollbackIfInBlockAsync(IReadOnlyList<SqlStatement> unit, CancellationToken cancellationToken)
        {
            if ((unit[0].Transaction == TransactionControl.Begin || _batchOpen) && _session!.FullState == System.Data.ConnectionState.Open)
                await ExecAsync(_session, "ROLLBACK", cancellationToken);
            _batchOpen = false;
        }

        private async Task CancelBackendAsync()
        {
            try
            {
                await using var connection = await TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}:cancel", CancellationToken.None);
                await using var command = new NpgsqlCommand("SELECT pg_cancel_backend($1)", connection);
                command.Parameters.Add(new NpgsqlParameter { Value = _ownPids[0] });
                await command.ExecuteScalarAsync();
            }
            catch (NpgsqlException)
            {
                // The run notices the cancel at its next boundary anyway.
            }
        }

        private Task<NpgsqlConnection> OpenAsync(string applicationName, CancellationToken cancellationToken) =>
            TargetSession.OpenAsync(request.TargetConnectionString, applicationName, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await _cancelHook.DisposeAsync();
            if (_watch is not null) await _watch.DisposeAsync();
            if (_session is not null)
            {
                _session.Notice -= OnNotice;
                if (request.Session is null)
                    await _session.DisposeAsync();   // ends the session: releases the run lock
            }
        }
    }

    /// <summary>Statements grouped as they must run: a transaction block as one unit, every other statement alone.</summary>
    internal static List<IReadOnlyList<SqlStatement>> Units(SqlScript script) =>
        script.Statements
            .GroupBy(s => s.Block is { } b ? -b : s.Number)
            .Select(g => (IReadOnlyList<SqlStatement>)g.ToList())
            .ToList();

    private static string Milliseconds(TimeSpan t) => $"{(long)Math.Ceiling(t.TotalMilliseconds)}";

    private static async Task ExecAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
