using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using Npgsql;

namespace ChatOps.Postgres.Monitoring;

/// <summary>
/// Samples the target database (only its sessions: another database on the same server is not the
/// application) on its own session (<c>chatops:&lt;run&gt;:sampler</c>) with one short query per
/// sample — nothing that holds a snapshot for long, which would stall a concurrent index build.
/// <c>pg_blocking_pids</c> is called only for sessions waiting on a lock: it is not free.
/// </summary>
public sealed class MetricSampler : IAsyncDisposable
{
    // PG14+ has pg_locks.waitstart; before that the wait is measured from the statement's start.
    private const string WaitStartPg14 = "l.waitstart";
    private const string WaitStartPg13 = "CASE WHEN a.wait_event_type = 'Lock' THEN a.query_start END";

    // "Blocked by the migration" follows the chain: an application session waiting for another one that waits for
    // the migration is the migration's doing too. Sessions waiting only for each other (row locks) are the application's own.
    private const string SampleSql = """
        WITH RECURSIVE sessions AS (
            SELECT a.pid, a.application_name LIKE 'chatops:%' AS ours, a.wait_event_type, a.wait_event, a.query_start
            FROM pg_stat_activity a
            WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.datname = current_database()
        ),
        waits AS (
            SELECT s.pid, s.ours, s.wait_event, now() - min({0}) AS waited
            FROM sessions s
            JOIN pg_stat_activity a ON a.pid = s.pid
            LEFT JOIN pg_locks l ON l.pid = s.pid AND NOT l.granted
            WHERE s.wait_event_type = 'Lock'
            GROUP BY s.pid, s.ours, s.wait_event
        ),
        app_waits AS (
            SELECT w.pid, pg_blocking_pids(w.pid) AS blockers, coalesce(w.waited, interval '0') AS waited FROM waits w WHERE NOT w.ours
        ),
        by_us (pid) AS (
            SELECT aw.pid FROM app_waits aw WHERE aw.blockers && ARRAY(SELECT pid FROM sessions WHERE ours)
            UNION
            SELECT aw.pid FROM app_waits aw JOIN by_us u ON u.pid = ANY (aw.blockers)
        ),
        blocked AS (
            SELECT aw.pid, aw.pid IN (SELECT pid FROM by_us) AS by_us FROM app_waits aw WHERE aw.waited >= make_interval(secs => {2})
        ),
        db AS (
            SELECT xact_commit, xact_rollback, deadlocks, {1} AS sessions_lost FROM pg_stat_database WHERE datname = current_database()
        )
        SELECT
            coalesce(extract(epoch FROM (SELECT max(waited) FROM waits WHERE NOT ours)), 0)::float8,
            (SELECT count(*) FROM blocked WHERE by_us)::int,
            (SELECT count(*) FROM blocked WHERE NOT by_us)::int,
            (SELECT count(*) FROM sessions)::int + 1,
            current_setting('max_connections')::int,
            (SELECT extract(epoch FROM max(replay_lag)) FROM pg_stat_replication)::float8,
            (SELECT count(*) FROM pg_stat_replication)::int,
            coalesce(extract(epoch FROM (SELECT max(waited) FROM waits WHERE ours)), 0)::float8,
            (SELECT string_agg(DISTINCT wait_event, ',') FROM waits WHERE ours),
            (SELECT xact_commit FROM db), (SELECT xact_rollback FROM db), (SELECT deadlocks FROM db),
            extract(epoch FROM clock_timestamp() - statement_timestamp())::float8,
            (SELECT sessions_lost FROM db)::int8, current_database()
        """;

    private const string IndexBuildsSql = """
        SELECT coalesce(p.index_relid::regclass::text, '(new index)'), p.relid::regclass::text, p.phase,
               CASE WHEN p.blocks_total > 0 THEN 100.0 * p.blocks_done / p.blocks_total
                    WHEN p.tuples_total > 0 THEN 100.0 * p.tuples_done / p.tuples_total
                    WHEN p.lockers_total > 0 THEN 100.0 * p.lockers_done / p.lockers_total
                    WHEN p.partitions_total > 0 THEN 100.0 * p.partitions_done / p.partitions_total END::float8
        FROM pg_stat_progress_create_index p
        WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
        """;

    // Whom our waiting sessions wait for: a concurrent build waits on old transactions' virtual xids, which pg_blocking_pids names.
    private const string ExecutorBlockersSql = """
        SELECT DISTINCT b.pid, coalesce(b.application_name, ''), coalesce(b.state, ''), extract(epoch FROM now() - b.xact_start)::float8,
               coalesce(b.query, ''), coalesce(l.mode, w.wait_event, '')
        FROM pg_stat_activity w
        CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
        JOIN pg_stat_activity b ON b.pid = bp.pid
        LEFT JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted
        WHERE w.application_name LIKE 'chatops:%' AND w.wait_event_type = 'Lock' AND w.datname = current_database()
          AND b.application_name NOT LIKE 'chatops:%'
        ORDER BY 4 DESC NULLS LAST
        """;

    private readonly NpgsqlConnection _connection;
    private readonly TimeProvider _time;
    private readonly string _sampleSql;
    private (long Commits, long Rollbacks, long Deadlocks, long? SessionsLost)? _previous;
    private TaskCompletionSource _soon = NewSoon();
    private long _transactions;

    /// <summary>Transactions the sampler's session has committed (pg_stat_database counts them with the application's).</summary>
    public long Transactions => Interlocked.Read(ref _transactions);

    private MetricSampler(NpgsqlConnection connection, TimeProvider time, bool hasWaitStart, TimeSpan blockedAfter)
    {
        _connection = connection;
        _time = time;
        _sampleSql = SampleSql.Replace("{0}", hasWaitStart ? WaitStartPg14 : WaitStartPg13).Replace("{1}", hasWaitStart ? Probes.TransactionCounters.SessionsLostPg14 : "NULL")
            .Replace("{2}", blockedAfter.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Opens the sampler's own session on the target. An application session counts as blocked once it has waited
    /// <paramref name="blockedAfter"/> for a lock (default: any wait).</summary>
    public static async Task<MetricSampler> OpenAsync(string targetConnectionString, string runId, TimeProvider time, CancellationToken cancellationToken,
        TimeSpan? blockedAfter = null)
    {
        var connection = await TargetSession.OpenAsync(targetConnectionString, $"chatops:{runId}:sampler", cancellationToken, commandTimeout: 10);
        await BoundAsync(connection, cancellationToken);
        return new MetricSampler(connection, time, connection.PostgreSqlVersion.Major >= 14, blockedAfter ?? TimeSpan.Zero);
    }

    /// <summary>A sample must never hang on the target: every session the sampler opens gets a short statement_timeout.</summary>
    private static async Task BoundAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SET statement_timeout = '5s'", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>One sample; a failure is returned as a gap (and the session reopened on the next call).</summary>
    public async Task<MonitoringReading> SampleAsync(CancellationToken cancellationToken)
    {
        var at = _time.GetUtcNow();
        try
        {
            if (_connection.State != System.Data.ConnectionState.Open)
            {
                // After a failure the session is broken: start a fresh one.
                await _connection.CloseAsync();
                await _connection.OpenAsync(cancellationToken);
                await BoundAsync(_connection, cancellationToken);
            }
            return await ReadAsync(at, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            return new SampleGap(at, ex.Message);
        }
    }

    private async Task<MetricSample> ReadAsync(DateTimeOffset at, CancellationToken cancellationToken)
    {
        TimeSpan appWait, ownWait, took;
        TimeSpan? lag;
        int byUs, byOthers, connections, maxConnections;
        string? ownEvent;
        long commits, rollbacks, deadlocks;
        long? sessionsLost;
        string database;
        await using (var command = new NpgsqlCommand(_sampleSql, _connection))
        await using (var r = await command.ExecuteReaderAsync(cancellationToken))
        {
            await r.ReadAsync(cancellationToken);
            appWait = TimeSpan.FromSeconds(r.GetDouble(0));
            byUs = r.GetInt32(1);
            byOthers = r.GetInt32(2);
            connections = r.GetInt32(3);
            maxConnections = r.GetInt32(4);
            lag = r.GetInt32(6) == 0 ? null : TimeSpan.FromSeconds(r.IsDBNull(5) ? 0 : r.GetDouble(5));
            ownWait = TimeSpan.FromSeconds(r.GetDouble(7));
            ownEvent = r.IsDBNull(8) ? null : r.GetString(8);
            commits = r.GetInt64(9);
            rollbacks = r.GetInt64(10);
            deadlocks = r.GetInt64(11);
            took = TimeSpan.FromSeconds(r.GetDouble(12));
            sessionsLost = r.IsDBNull(13) ? null : r.GetInt64(13);
            database = r.GetString(14);
        }

        var builds = new List<IndexBuildProgress>();
        await using (var command = new NpgsqlCommand(IndexBuildsSql, _connection))
        await using (var r = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
                builds.Add(new IndexBuildProgress(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetDouble(3)));
        }

        var waitsFor = new List<BlockingSession>();
        if (ownWait > TimeSpan.Zero)
        {
            await using var command = new NpgsqlCommand(ExecutorBlockersSql, _connection);
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
                waitsFor.Add(new BlockingSession(r.GetInt32(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : TimeSpan.FromSeconds(r.GetDouble(3)),
                    QueryText.Redact(r.GetString(4)), r.GetString(5), ownEvent ?? "a lock"));
            Interlocked.Increment(ref _transactions);
        }

        Interlocked.Add(ref _transactions, 2);   // the sample and the index-build query, each its own transaction
        var previous = _previous ?? (commits, rollbacks, deadlocks, sessionsLost);
        _previous = (commits, rollbacks, deadlocks, sessionsLost);
        return new MetricSample(at, database, appWait, byUs, byOthers, connections, maxConnections, lag, builds,
            commits - previous.Commits, rollbacks - previous.Rollbacks, deadlocks - previous.Deadlocks, sessionsLost - previous.SessionsLost, ownWait, ownEvent, took)
        {
            ExecutorWaitsFor = waitsFor,
        };
    }

    /// <summary>Samples every <paramref name="interval"/> until cancelled, handing each sample or gap to <paramref name="onReading"/>.</summary>
    public Task RunAsync(TimeSpan interval, Action<MonitoringReading> onReading, CancellationToken cancellationToken) =>
        RunAsync(() => interval, onReading, cancellationToken);

    /// <summary>
    /// Samples until cancelled, waiting <paramref name="interval"/>() between samples (read anew each time, so a
    /// caller can sample faster while the migration runs) or less when <see cref="SampleSoon"/> is called.
    /// </summary>
    public async Task RunAsync(Func<TimeSpan> interval, Action<MonitoringReading> onReading, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                // Reset before sampling: a request made during the sample asks for the next one.
                if (Volatile.Read(ref _soon).Task.IsCompleted)
                    Interlocked.Exchange(ref _soon, NewSoon());
                onReading(await SampleAsync(cancellationToken));
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                await Task.WhenAny(Task.Delay(interval(), _time, wait.Token), Volatile.Read(ref _soon).Task);
                await wait.CancelAsync();
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Asks the running loop for a sample now (e.g. when a statement starts or ends) rather than at the next interval.</summary>
    public void SampleSoon() => Volatile.Read(ref _soon).TrySetResult();

    private static TaskCompletionSource NewSoon() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The sampler session's backend pid (to tell it apart, or to test a lost session).</summary>
    public int ProcessId => _connection.ProcessID;

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
