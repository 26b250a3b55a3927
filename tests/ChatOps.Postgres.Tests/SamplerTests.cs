using ChatOps.Core.Monitoring;
using ChatOps.Postgres.Monitoring;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>A constructed blocking chain, sampled: the application's waits, the migration's blocking and its own waits, apart.
/// Each test class has its own database, and the sampler counts only its database's sessions, so the counts are exact
/// while other classes block sessions on the same server.</summary>
public class SamplerTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task Counts_blocked_sessions_by_who_blocks_them_and_keeps_the_migrations_own_waits_apart()
    {
        await db.ExecuteAsync("CREATE TABLE held_by_app (id int)");
        await db.ExecuteAsync("CREATE TABLE held_by_migration (id int)");
        await db.ExecuteAsync("CREATE TABLE held_in_chain (id int)");

        // An application session holds held_by_app; the migration's session holds held_by_migration.
        await using var appHolder = await db.OpenAsync("billing-worker");
        await using var appTx = await appHolder.BeginTransactionAsync();
        await Sql.ScalarAsync(appHolder, "LOCK TABLE held_by_app IN ACCESS EXCLUSIVE MODE");
        await using var migration = await db.OpenAsync("chatops:sampler-test");
        await using var migrationTx = await migration.BeginTransactionAsync();
        await Sql.ScalarAsync(migration, "LOCK TABLE held_by_migration IN ACCESS EXCLUSIVE MODE");

        // Two application readers wait for the app holder, one for the migration; a concurrent build of
        // ours waits for the app holder too — that is the executor's wait, not the application's.
        var waiters = new List<(NpgsqlConnection Connection, Task Query)>();
        async Task Wait(string app, string sql)
        {
            var c = await db.OpenAsync(app);
            waiters.Add((c, Sql.ScalarAsync(c, sql)));
        }
        await Wait("web-1", "SELECT count(*) FROM held_by_app");
        await Wait("web-2", "SELECT count(*) FROM held_by_app");
        await Wait("web-3", "SELECT count(*) FROM held_by_migration");
        await Wait("chatops:sampler-test:build", "CREATE INDEX CONCURRENTLY held_idx ON held_by_app (id)");
        // A chain: an application session holding held_in_chain waits for the migration, and web-4 waits for it —
        // web-4 is blocked by the migration too, through the chain.
        var chain = await db.OpenAsync("worker-in-chain");
        var chainTx = await chain.BeginTransactionAsync();
        await Sql.ScalarAsync(chain, "LOCK TABLE held_in_chain IN ACCESS EXCLUSIVE MODE");
        var chainWaits = Sql.ScalarAsync(chain, "SELECT count(*) FROM held_by_migration");
        await Wait("web-4", "SELECT count(*) FROM held_in_chain");
        await Sql.WaitUntilAsync(db, $"SELECT count(*) = 6 FROM pg_stat_activity WHERE datname = '{db.Name}' AND wait_event_type = 'Lock'", "six sessions to wait on locks");
        await Task.Delay(600);   // let the waits grow measurably

        await using var sampler = await MetricSampler.OpenAsync(db.ConnectionString, "sampler-test", TimeProvider.System, CancellationToken.None);
        var sample = Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));

        Assert.Equal(2, sample.BlockedByOthers);
        Assert.Equal(3, sample.BlockedByMigration);   // web-3, the worker in the chain, and web-4 behind it
        Assert.Equal(5, sample.BlockedApp);
        Assert.Equal(db.Name, sample.Database);
        Assert.InRange(sample.LongestAppLockWait, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
        Assert.InRange(sample.ExecutorLockWait, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
        Assert.Equal(300, sample.MaxConnections);
        // This database's sessions only: the 8 above, the sampler, and the test's pooled helper connection(s) —
        // not the other test classes' sessions on the same server.
        Assert.InRange(sample.Connections, 9, 11);
        Assert.Null(sample.ReplicationLag);   // no replicas: n/a, not zero
        Assert.InRange(sample.SampleDuration, TimeSpan.Zero, TimeSpan.FromSeconds(5));   // bounded by the sampler's statement_timeout

        await appTx.RollbackAsync();
        await migrationTx.RollbackAsync();
        await chainWaits;   // released by the migration's rollback; its transaction still holds held_in_chain
        await chainTx.CommitAsync();
        await chain.DisposeAsync();
        foreach (var (c, q) in waiters)
        {
            await q;
            await c.DisposeAsync();
        }

        // Nothing waits now.
        var calm = Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));
        Assert.Equal(0, calm.BlockedApp);
        Assert.Equal(TimeSpan.Zero, calm.LongestAppLockWait);
        Assert.Equal(TimeSpan.Zero, calm.ExecutorLockWait);
    }

    [Fact]
    public async Task Sessions_blocked_in_another_database_on_the_same_server_do_not_count()
    {
        var other = $"chatops_other_{Guid.NewGuid():N}"[..30];
        await DatabaseAdmin.CreateAsync(db.ServerConnectionString, other, template: null, CancellationToken.None);
        try
        {
            var otherCs = ConnectionStrings.WithDatabase(db.ServerConnectionString, other);
            await using var holder = new NpgsqlConnection(ConnectionStrings.WithApplicationName(otherCs, "other-app"));
            await holder.OpenAsync();
            await Sql.ScalarAsync(holder, "CREATE TABLE busy (id int)");
            await using var tx = await holder.BeginTransactionAsync();
            await Sql.ScalarAsync(holder, "LOCK TABLE busy IN ACCESS EXCLUSIVE MODE");
            await using var waiter = new NpgsqlConnection(ConnectionStrings.WithApplicationName(otherCs, "other-web"));
            await waiter.OpenAsync();
            var waiting = Sql.ScalarAsync(waiter, "SELECT count(*) FROM busy");
            await Sql.WaitUntilAsync(db, $"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{other}' AND wait_event_type = 'Lock')",
                "a session of the other database to wait");

            await using var sampler = await MetricSampler.OpenAsync(db.ConnectionString, "other-db-test", TimeProvider.System, CancellationToken.None);
            var sample = Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));
            Assert.Equal(db.Name, sample.Database);
            Assert.Equal(0, sample.BlockedApp);
            Assert.Equal(TimeSpan.Zero, sample.LongestAppLockWait);

            await tx.RollbackAsync();
            await waiting;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await DatabaseAdmin.DropAsync(db.ServerConnectionString, other, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Sampling_soon_takes_a_sample_before_the_interval_is_up()
    {
        await using var sampler = await MetricSampler.OpenAsync(db.ConnectionString, "soon-test", TimeProvider.System, CancellationToken.None);
        var readings = new List<MonitoringReading>();
        var second = new TaskCompletionSource();
        using var stop = new CancellationTokenSource();
        // An hour's interval: only SampleSoon can bring the second sample.
        var running = sampler.RunAsync(TimeSpan.FromHours(1), r =>
        {
            lock (readings)
            {
                readings.Add(r);
                if (readings.Count == 2) second.TrySetResult();
            }
        }, stop.Token);
        await WaitForAsync(() => { lock (readings) return readings.Count == 1; });

        sampler.SampleSoon();
        await second.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await running;
        lock (readings) Assert.All(readings, r => Assert.IsType<MetricSample>(r));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 1500 && !condition(); i++)
            await Task.Delay(20);
        Assert.True(condition(), "waited 30 s");
    }

    [Fact]
    public async Task A_failed_sample_is_a_gap_and_the_sampler_recovers()
    {
        await using var sampler = await MetricSampler.OpenAsync(db.ConnectionString, "gap-test", TimeProvider.System, CancellationToken.None);
        Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));

        await db.ExecuteAsync($"SELECT pg_terminate_backend({sampler.ProcessId})");
        var gap = Assert.IsType<SampleGap>(await sampler.SampleAsync(CancellationToken.None));
        Assert.NotEmpty(gap.Error);

        Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));
    }
}

/// <summary>A concurrent build waiting for an old snapshot is shown with whose snapshot it is, not as "virtualxid".</summary>
public class BuildWaitsForSnapshotTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task The_sample_names_the_session_whose_old_snapshot_a_concurrent_build_waits_for()
    {
        await db.ExecuteAsync("CREATE TABLE snap_t (id int)");
        await db.ExecuteAsync("CREATE TABLE snap_other (id int)");
        await using var reporter = await db.OpenAsync("nightly-report");
        await using var snapshot = await reporter.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await Sql.ScalarAsync(reporter, "SELECT count(*) FROM snap_other");   // another table: only its snapshot is in the way

        var builder = await db.OpenAsync("chatops:snap-test");
        var build = Sql.ScalarAsync(builder, "CREATE INDEX CONCURRENTLY snap_idx ON snap_t (id)");
        await Sql.WaitUntilAsync(db, $"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{db.Name}' AND application_name = 'chatops:snap-test' AND wait_event = 'virtualxid')",
            "the build to wait for the old snapshot");

        await using var sampler = await MetricSampler.OpenAsync(db.ConnectionString, "snap-test", TimeProvider.System, CancellationToken.None);
        var sample = Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));

        Assert.Equal("virtualxid", sample.ExecutorWaitEvent);
        var holder = Assert.Single(sample.ExecutorWaitsFor);
        Assert.Equal(reporter.ProcessID, holder.Pid);
        Assert.Equal("nightly-report", holder.ApplicationName);
        Assert.StartsWith("idle in transaction", holder.State);

        await snapshot.CommitAsync();
        await build;
        await builder.DisposeAsync();
    }
}
