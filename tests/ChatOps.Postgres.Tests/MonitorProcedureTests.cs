using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>Tests whose outcome depends on which transactions are running in the whole cluster run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterQuietCollection
{
    public const string Name = "cluster-quiet";
}

/// <summary>
/// <c>monitor_migration_performance</c> runs beside the migration for 30 minutes; it must not hold a
/// snapshot that <c>CREATE INDEX CONCURRENTLY</c> would wait for.
/// </summary>
// CREATE INDEX CONCURRENTLY waits only for snapshots older than its reference snapshot's xmin; another
// test's transaction running at that moment lowers that horizon, and the build would not wait for the
// counter-example's snapshot.
[Collection(ClusterQuietCollection.Name)]
public class MonitorProcedureTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_concurrent_index_build_finishes_while_the_monitor_is_still_running()
    {
        await using var monitor = await db.OpenAsync("monitor");
        var samples = new List<string>();
        var firstSample = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.Notice += (_, e) =>
        {
            lock (samples) samples.Add(e.Notice.MessageText);
            firstSample.TrySetResult();
        };
        using var stopMonitor = new CancellationTokenSource();
        // Far longer than the bounded waits below put together: the monitor cannot end by itself during the
        // test, so a build that waited for it would run into the build's bound.
        await using var call = new NpgsqlCommand("CALL public.monitor_migration_performance(600, 1)", monitor) { CommandTimeout = 0 };
        var running = call.ExecuteNonQueryAsync(stopMonitor.Token);
        try
        {
            await Poll.WithinAsync(firstSample.Task, "the monitor's first sample");

            await Poll.WithinAsync(db.ExecuteAsync("CREATE INDEX CONCURRENTLY idx_monitor_test ON public.contacts (email)"),
                "the index build beside the monitor (did it wait for the monitor's snapshots?)", TimeSpan.FromSeconds(120));

            Assert.False(running.IsCompleted, "the monitor ended before the build; the test proves nothing");
            Assert.True(await db.ScalarAsync<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.idx_monitor_test'::regclass"));
            lock (samples) Assert.Contains(samples, s => s.Contains("longest lock wait") && s.Contains("index builds"));
        }
        finally
        {
            await stopMonitor.CancelAsync();
            await Poll.EndedAsync(running);
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Poll.WithinAsync(running, "the monitor's end once cancelled"));
    }

    [Fact]
    public async Task The_same_sampling_as_one_long_select_would_stall_the_build_which_is_why_it_is_a_procedure()
    {
        // The counter-example the procedure avoids: a function sleeping inside one statement holds its snapshot.
        await db.ExecuteAsync("""
            CREATE FUNCTION naive_monitor(seconds int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                FOR i IN 1..seconds * 10 LOOP PERFORM count(*) FROM pg_locks; PERFORM pg_sleep(0.1); END LOOP;
                RETURN 0;
            END $$
            """);
        await using var monitor = await db.OpenAsync("naive-monitor");
        var monitorPid = monitor.ProcessID;
        // Far longer than the test: only the cancel below ends it, so the build cannot get past it by luck.
        await using var call = new NpgsqlCommand("SELECT naive_monitor(600)", monitor) { CommandTimeout = 0 };
        var running = call.ExecuteScalarAsync();
        await using var builder = await db.OpenAsync("index-build");
        var buildPid = builder.ProcessID;
        await using var create = new NpgsqlCommand("CREATE INDEX CONCURRENTLY idx_naive_test ON public.contacts (email)", builder) { CommandTimeout = 0 };
        Task? build = null;
        try
        {
            // One statement is one transaction: its snapshot lives as long as the statement, where the procedure's
            // transactions end every 0.1 s. A second-old one is the long-lived snapshot the build will meet.
            await Poll.UntilAsync(() => db.ScalarAsync<bool>(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND backend_xmin IS NOT NULL AND xact_start < now() - interval '1 second')",
                    monitorPid),
                "the naive monitor to run holding its snapshot (backend_xmin) in a transaction over a second old");
            var monitorTransaction = await db.ScalarAsync<string>(
                "SELECT virtualxid FROM pg_locks WHERE pid = $1 AND locktype = 'virtualxid' AND granted", monitorPid);

            build = create.ExecuteNonQueryAsync();

            // The build's last wait is for every snapshot older than its own: it waits on the very transaction
            // the monitor was in before the build began, which lasts until its one statement ends.
            await Poll.UntilAsync(() => db.ScalarAsync<bool>("""
                    SELECT EXISTS (
                        SELECT 1 FROM pg_stat_activity a
                        JOIN pg_stat_progress_create_index p ON p.pid = a.pid
                        JOIN pg_locks waits ON waits.pid = a.pid AND waits.locktype = 'virtualxid' AND NOT waits.granted
                        JOIN pg_locks holds ON holds.locktype = 'virtualxid' AND holds.virtualxid = waits.virtualxid AND holds.granted
                        WHERE a.pid = $1 AND a.wait_event_type = 'Lock' AND a.wait_event = 'virtualxid'
                          AND p.phase = 'waiting for old snapshots'
                          AND holds.pid = $2 AND holds.virtualxid = $3 AND $2 = ANY (pg_blocking_pids(a.pid)))
                    """, buildPid, monitorPid, monitorTransaction),
                $"the build (pid {buildPid}) to wait for the naive monitor's transaction {monitorTransaction} (pid {monitorPid})",
                lastSeen: () => db.ScalarAsync<string>("""
                    SELECT coalesce((SELECT format('build %s, waiting on %s/%s, phase %s, blocked by %s', a.state, a.wait_event_type, a.wait_event, p.phase, pg_blocking_pids(a.pid))
                                     FROM pg_stat_activity a LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid WHERE a.pid = $1), 'no build session')
                    """, buildPid));

            Assert.True(await db.ScalarAsync<bool>("SELECT pg_cancel_backend($1)", monitorPid));
            var cancelled = await Assert.ThrowsAsync<PostgresException>(() => Poll.WithinAsync(running, "the naive monitor's end once cancelled"));
            Assert.Equal(PostgresErrorCodes.QueryCanceled, cancelled.SqlState);

            await Poll.WithinAsync(build, "the build once the naive monitor's snapshot was gone", TimeSpan.FromSeconds(60));
            Assert.True(await db.ScalarAsync<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.idx_naive_test'::regclass"));
        }
        finally
        {
            // A failed assertion must not leave either session running to stall the next test's build.
            if (!running.IsCompleted)
                await db.ScalarAsync<bool>("SELECT pg_terminate_backend($1)", monitorPid);
            if (build is { IsCompleted: false })
                await db.ScalarAsync<bool>("SELECT pg_terminate_backend($1)", buildPid);
            await Poll.EndedAsync(running);
            if (build is not null)
                await Poll.EndedAsync(build);
        }
    }
}
