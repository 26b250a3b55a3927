using System.Diagnostics;
using ChatOps.Core.Execution;
using ChatOps.Postgres.Options;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>
/// The classic outage: a long transaction (B) holds a lock, the migration's DDL queues behind it, and every
/// application query (C) queues behind the DDL. The executor must never put C in that queue.
/// </summary>
public class LockQueueTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Reads_go_on_while_a_long_transaction_blocks_the_migration_which_waits_reports_it_and_finishes_after()
    {
        await using var b = await db.OpenAsync("billing-report");
        await using var bTx = await b.BeginTransactionAsync();
        await Scalar(b, "SELECT count(*) FROM public.contacts WHERE email LIKE 'contact1%'");   // B now holds ACCESS SHARE, idle in transaction

        var harness = new ExecutorHarness(db.ConnectionString);
        var run = harness.RunAsync(SeedMigration.Sql);
        var waiting = await harness.WaitForAsync<WaitingForBlockers>();
        var held = Stopwatch.StartNew();

        // C, the application, keeps reading contacts while B holds its transaction and the executor waits.
        // A read queued behind the migration's DDL would wait on a lock: lock_timeout turns that into an
        // error, where a slow read on a busy machine is no error.
        await using var c = await db.OpenAsync("web-app");
        await Scalar(c, "SET lock_timeout = '50ms'");
        // For a while (a count and a span, not a race): the executor looks for B again every 250 ms meanwhile.
        for (var reads = 0; reads < 20 || held.Elapsed < TimeSpan.FromSeconds(2); reads++)
        {
            await Scalar(c, "SELECT count(*) FROM public.contacts WHERE organization_id = (SELECT id FROM public.organizations LIMIT 1)");
            // Nobody in this database queues for a lock: the executor has not asked for its own.
            Assert.Equal(0L, await db.ScalarAsync<long>(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()"));
        }
        Assert.False(run.IsCompleted, "the migration must still be waiting for B");

        // Both read before the commit is sent: the executor cannot see B gone any earlier.
        held.Stop();
        var bEnded = DateTimeOffset.UtcNow;
        await bTx.CommitAsync();
        var result = await Poll.WithinAsync(run, "the migration once B committed", TimeSpan.FromSeconds(120));

        Assert.Equal(b.ProcessID, Assert.Single(waiting.Blockers).Pid);
        Assert.Equal("billing-report", waiting.Blockers[0].ApplicationName);
        Assert.StartsWith("idle in transaction", waiting.Blockers[0].State);
        Assert.Equal("SELECT count(*) FROM public.contacts WHERE email LIKE ?", waiting.Blockers[0].Query);
        Assert.Equal(1, waiting.Statement.Number);
        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.True(harness.EventsOf<RunFinished>().Single().At >= bEnded);
        Assert.Empty(harness.EventsOf<StatementRetried>());   // it never knocked while B was inside
        // Its wait began before it reported it and ended after B committed.
        var first = harness.EventsOf<StatementFinished>().First(f => f.Statement.Number == 1);
        Assert.True(first.LockWait >= held.Elapsed, $"lock wait {first.LockWait} reported, B held on for {held.Elapsed} after the report");
    }

    private static async Task<object?> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}

/// <summary>B never ends: the executor gives up within its budget, naming B — and has changed nothing.</summary>
public class LockBudgetTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task When_the_blocker_never_ends_the_run_fails_within_its_budget_naming_the_blocker()
    {
        await using var b = await db.OpenAsync("forgotten-psql");
        await using var bTx = await b.BeginTransactionAsync();
        await Scalar(b, "SELECT count(*) FROM public.contacts WHERE id = '00000000-0000-0000-0000-000000000001'");

        var harness = new ExecutorHarness(db.ConnectionString, new ExecutionOptions { LockRetryBudget = TimeSpan.FromSeconds(2) });
        // B holds on throughout, so the run can only end by giving up. The bound is for a hang, not for speed:
        // the message below says it was the 2 s budget that ended it.
        var result = await Poll.WithinAsync(harness.RunAsync(SeedMigration.Sql), "the run, with B never ending", TimeSpan.FromSeconds(60));

        Assert.Equal(RunOutcome.Failed, result.Outcome);
        Assert.Contains("LockRetryBudget is 00:00:02", result.Failure!.Message);
        Assert.Equal("55P03", result.Failure!.SqlState);
        Assert.Equal(1, result.Failure.Statement.Number);
        Assert.Contains($"pid {b.ProcessID}", result.Failure.Message);
        Assert.Contains("forgotten-psql", result.Failure.Message);
        Assert.Contains("WHERE id = ?", result.Failure.Message);   // the literal is not posted
        Assert.Equal(b.ProcessID, Assert.Single(result.Failure.Blockers).Pid);
        Assert.Equal(0L, await db.ScalarAsync<long>(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'analytics_enabled'"));
        await bTx.RollbackAsync();
    }

    private static async Task<object?> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}

/// <summary>A blocker too young to wait for: the executor attempts, times out (55P03) for real, retries, and gives up at its budget naming it.</summary>
public class LockTimeoutRetryTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Real_lock_timeouts_are_retried_until_the_budget_is_spent_and_the_failure_names_the_blocker()
    {
        // B runs a long report: active (not idle in a transaction), and younger than the lock timeout (6 s: room for a slow start) when the run starts,
        // so there is no reason to wait for it — the executor knocks, for real.
        await using var b = await db.OpenAsync("young-report");
        var report = Task.Run(async () =>
        {
            await using var query = new NpgsqlCommand("SELECT count(*) FROM public.contacts, pg_sleep(30)", b);
            try { await query.ExecuteScalarAsync(); } catch (PostgresException) { }
        });
        await Sql.WaitUntilAsync(db, $"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = {b.ProcessID} AND relation = 'public.contacts'::regclass AND granted)", "B to hold contacts");

        var harness = new ExecutorHarness(db.ConnectionString, new ExecutionOptions { LockTimeout = TimeSpan.FromSeconds(6), LockRetryBudget = TimeSpan.FromSeconds(8) });
        var result = await Poll.WithinAsync(harness.RunAsync("ALTER TABLE public.contacts ADD COLUMN lt_note text;"), "the run, with B never ending", TimeSpan.FromSeconds(60));

        Assert.Equal(RunOutcome.Failed, result.Outcome);
        Assert.Equal("55P03", result.Failure!.SqlState);
        var retried = Assert.Single(harness.EventsOf<StatementRetried>());
        Assert.Equal(b.ProcessID, Assert.Single(retried.Blockers).Pid);
        Assert.Contains("1 attempt(s); ChatOps:Execution:LockRetryBudget is 00:00:08", result.Failure.Message);
        Assert.Contains($"pid {b.ProcessID} (\"young-report\"", result.Failure.Message);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'lt_note'"));
        await db.ExecuteAsync($"SELECT pg_cancel_backend({b.ProcessID})");
        await report;
    }
}
