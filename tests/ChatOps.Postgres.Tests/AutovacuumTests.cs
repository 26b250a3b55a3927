using ChatOps.Core.Execution;
using ChatOps.Postgres.Launching;
using ChatOps.Postgres.Options;
using ChatOps.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// A real autovacuum worker in the way of a migration's lock: an ordinary one is not waited out (PostgreSQL cancels it for a
/// lock request, and so does the executor, or lets PostgreSQL do it). Its own cluster: the test turns autovacuum's nap time
/// down server-wide, which must not touch other tests' servers.
/// </summary>
public class AutovacuumTests
{
    private static readonly ExecutionOptions Bounded = new() { LockRetryBudget = TimeSpan.FromSeconds(30) };

    [LocalPostgresFact]
    public async Task An_ordinary_autovacuum_holding_the_table_is_cancelled_not_waited_out_with_or_without_the_right_to_signal_it()
    {
        await using var server = await LocalCluster.StartAsync(LocalBinaries.Find().Directory!, LocalCluster.DefaultRoot, Environment.ProcessId,
            NullLogger.Instance, CancellationToken.None);
        var admin = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Pooling = false }.ConnectionString;
        await ExecAsync(admin, "ALTER SYSTEM SET autovacuum_naptime = '1s'");
        await ExecAsync(admin, "SELECT pg_reload_conf()");
        await ExecAsync(admin, "CREATE ROLE table_owner LOGIN");
        await ExecAsync(admin, "GRANT CREATE ON SCHEMA public TO table_owner");
        // What the pre-deployment check asks for: without it, other sessions' (and autovacuum's) activity is hidden.
        await ExecAsync(admin, "GRANT pg_read_all_stats TO table_owner");

        // As a superuser the executor cancels the worker itself.
        await SlowlyVacuumedTableAsync(admin, "av_super");
        var asSuperuser = new ExecutorHarness(admin, Bounded);
        var result = await asSuperuser.RunAsync("ALTER TABLE av_super ADD COLUMN c int;");
        Assert.True(result.Succeeded, result.Failure?.Message);
        // Usually one worker, cancelled once; a slow abort or a relaunched worker means one more, cancelled the same way.
        var cancelled = asSuperuser.EventsOf<AutovacuumInTheWay>().ToList();
        Assert.NotEmpty(cancelled);
        Assert.All(cancelled, c => Assert.True(c.Cancelled && !c.Wraparound));
        Assert.Contains("av_super", cancelled[0].Worker.Query);
        Assert.Empty(asSuperuser.EventsOf<WaitingForBlockers>());

        // As the table's owner (no right to signal autovacuum on PostgreSQL 15) the attempt outlasts deadlock_timeout, and PostgreSQL cancels it.
        var owner = new NpgsqlConnectionStringBuilder(admin) { Username = "table_owner" }.ConnectionString;
        await SlowlyVacuumedTableAsync(owner, "av_owned", admin);
        var asOwner = new ExecutorHarness(owner, Bounded);
        var owned = await asOwner.RunAsync("ALTER TABLE av_owned ADD COLUMN c int;");
        Assert.True(owned.Succeeded, owned.Failure?.Message + " | " + string.Join(" | ", asOwner.Events.Select(e => e.ToString())));
        Assert.NotEmpty(asOwner.EventsOf<AutovacuumInTheWay>());
        Assert.All(asOwner.EventsOf<AutovacuumInTheWay>(), a => Assert.False(a.Cancelled));
        Assert.Empty(asOwner.EventsOf<WaitingForBlockers>());
        Assert.Empty(asOwner.EventsOf<StatementFailed>());
    }

    [LocalPostgresFact]
    public async Task An_autovacuum_preventing_wraparound_is_waited_for_and_named_never_cancelled()
    {
        await using var server = await LocalCluster.StartAsync(LocalBinaries.Find().Directory!, LocalCluster.DefaultRoot, Environment.ProcessId,
            NullLogger.Instance, CancellationToken.None);
        var admin = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Pooling = false }.ConnectionString;
        await ExecAsync(admin, "ALTER SYSTEM SET autovacuum_naptime = '1s'");
        await ExecAsync(admin, "SELECT pg_reload_conf()");
        // The lowest freeze age PostgreSQL allows, then that many transactions: autovacuum must freeze the table, and does so slowly.
        // Autovacuum is off for the table, so the only worker that comes is the one PostgreSQL sends whatever the setting.
        await ExecAsync(admin, """
            CREATE TABLE av_old (id int PRIMARY KEY, v int) WITH (autovacuum_freeze_max_age = 100000, autovacuum_enabled = false,
                autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1)
            """);
        await ExecAsync(admin, "INSERT INTO av_old SELECT g, 0 FROM generate_series(1, 200000) g");
        await ExecAsync(admin, "DO $$ BEGIN FOR i IN 1..101000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$");
        await using (var watch = new NpgsqlConnection(admin))
        {
            await watch.OpenAsync();
            await Poll.UntilAsync(async () =>
            {
                await using var command = new NpgsqlCommand("""
                    SELECT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.granted
                                   WHERE a.backend_type = 'autovacuum worker' AND l.relation = 'av_old'::regclass AND a.query LIKE '%to prevent wraparound%')
                    """, watch);
                return (bool)(await command.ExecuteScalarAsync())!;
            }, "an autovacuum to prevent wraparound on av_old", TimeSpan.FromSeconds(90));
        }

        var harness = new ExecutorHarness(admin, Bounded);
        harness.OnEvent = e => { if (e is AutovacuumInTheWay) harness.Control.Cancel(); };
        var result = await harness.RunAsync("ALTER TABLE av_old ADD COLUMN c int;");

        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        var waited = Assert.Single(harness.EventsOf<AutovacuumInTheWay>());
        Assert.True(waited.Wraparound);
        Assert.False(waited.Cancelled);
        Assert.Contains("to prevent wraparound", waited.Worker.Query);
        Assert.Contains(harness.EventsOf<WaitingForBlockers>(), w => w.Blockers.Any(b => b.Pid == waited.Worker.Pid));
        // Still there: nobody cancelled it (a worker that had only just started may have been knocked on once, not signalled).
        await using var check = new NpgsqlConnection(admin);
        await check.OpenAsync();
        await using var alive = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {waited.Worker.Pid})", check);
        Assert.True((bool)(await alive.ExecuteScalarAsync())!);
    }

    /// <summary>A table with 200,000 dead rows that autovacuum works through at a crawl, and a worker on it holding its lock.</summary>
    private static async Task SlowlyVacuumedTableAsync(string connectionString, string table, string? watch = null)
    {
        await ExecAsync(connectionString, $"""
            CREATE TABLE {table} (id int PRIMARY KEY, v int) WITH (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0,
                autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1, autovacuum_analyze_threshold = 2000000000)
            """);
        await ExecAsync(connectionString, $"INSERT INTO {table} SELECT g, 0 FROM generate_series(1, 200000) g");
        await ExecAsync(connectionString, $"UPDATE {table} SET v = 1");
        await using var connection = new NpgsqlConnection(watch ?? connectionString);
        await connection.OpenAsync();
        await Poll.UntilAsync(async () =>
        {
            await using var command = new NpgsqlCommand("""
                SELECT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.granted
                               WHERE a.backend_type = 'autovacuum worker' AND l.relation = $1::regclass)
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = table });
            return (bool)(await command.ExecuteScalarAsync())!;
        }, $"an autovacuum worker holding a lock on {table}", TimeSpan.FromSeconds(60));
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
