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
// test's transaction running at that moment lowers that horizon and would make the counter-example pass by luck.
[Collection(ClusterQuietCollection.Name)]
public class MonitorProcedureTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_concurrent_index_build_finishes_while_the_monitor_is_still_running()
    {
        await using var monitor = await db.OpenAsync("monitor");
        var samples = new List<string>();
        var firstSample = new TaskCompletionSource();
        monitor.Notice += (_, e) =>
        {
            lock (samples) samples.Add(e.Notice.MessageText);
            firstSample.TrySetResult();
        };
        using var stopMonitor = new CancellationTokenSource();
        await using var call = new NpgsqlCommand("CALL public.monitor_migration_performance(120, 1)", monitor) { CommandTimeout = 0 };
        var running = call.ExecuteNonQueryAsync(stopMonitor.Token);
        await firstSample.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await db.ExecuteAsync("CREATE INDEX CONCURRENTLY idx_monitor_test ON public.contacts (email)");

        Assert.False(running.IsCompleted, "the monitor ended before the build; the test proves nothing");
        Assert.True(await db.ScalarAsync<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.idx_monitor_test'::regclass"));
        lock (samples) Assert.Contains(samples, s => s.Contains("longest lock wait") && s.Contains("index builds"));

        await stopMonitor.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
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
        await using var call = new NpgsqlCommand("SELECT naive_monitor(3)", monitor);
        var running = call.ExecuteScalarAsync();
        // Wait until the function runs and holds its snapshot (backend_xmin set), not for a fixed time.
        for (var i = 0; i < 100 && !await db.ScalarAsync<bool>(
                 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'naive-monitor' AND state = 'active' AND backend_xmin IS NOT NULL)"); i++)
            await Task.Delay(20);

        await db.ExecuteAsync("CREATE INDEX CONCURRENTLY idx_naive_test ON public.contacts (email)");

        Assert.True(running.IsCompleted, "the build finished while the naive monitor still held its snapshot");
        await running;
    }
}
