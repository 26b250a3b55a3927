using ChatOps.Core.Monitoring;
using ChatOps.Postgres.Monitoring;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>A constructed blocking chain, sampled: the application's waits, the migration's blocking and its own waits, apart.</summary>
public class SamplerTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task Counts_blocked_sessions_by_who_blocks_them_and_keeps_the_migrations_own_waits_apart()
    {
        await db.ExecuteAsync("CREATE TABLE held_by_app (id int)");
        await db.ExecuteAsync("CREATE TABLE held_by_migration (id int)");

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
        await Sql.WaitUntilAsync(db, "SELECT count(*) = 4 FROM pg_stat_activity WHERE wait_event_type = 'Lock'", "four sessions to wait on locks");
        await Task.Delay(600);   // let the waits grow measurably

        await using var sampler = await MetricSampler.OpenAsync(db.ConnectionString, "sampler-test", TimeProvider.System, CancellationToken.None);
        var sample = Assert.IsType<MetricSample>(await sampler.SampleAsync(CancellationToken.None));

        Assert.Equal(2, sample.BlockedByOthers);
        Assert.Equal(1, sample.BlockedByMigration);
        Assert.Equal(3, sample.BlockedApp);
        Assert.InRange(sample.LongestAppLockWait, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
        Assert.InRange(sample.ExecutorLockWait, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
        Assert.Equal(300, sample.MaxConnections);
        Assert.InRange(sample.Connections, 8, 300);
        Assert.Null(sample.ReplicationLag);   // no replicas: n/a, not zero
        Assert.True(sample.SampleDuration < TimeSpan.FromSeconds(1));

        await appTx.RollbackAsync();
        await migrationTx.RollbackAsync();
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
