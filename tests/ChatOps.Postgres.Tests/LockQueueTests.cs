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

        // C, the application, keeps reading contacts while B holds its transaction and the executor waits.
        await using var c = await db.OpenAsync("web-app");
        var reads = 0;
        var slowest = TimeSpan.Zero;
        var window = Stopwatch.StartNew();
        while (window.Elapsed < TimeSpan.FromSeconds(2))
        {
            var read = Stopwatch.StartNew();
            await Scalar(c, "SELECT count(*) FROM public.contacts WHERE organization_id = (SELECT id FROM public.organizations LIMIT 1)");
            slowest = read.Elapsed > slowest ? read.Elapsed : slowest;
            reads++;
        }
        Assert.False(run.IsCompleted, "the migration must still be waiting for B");

        await bTx.CommitAsync();
        var bEnded = DateTimeOffset.UtcNow;
        var result = await run;

        Assert.True(reads > 10, $"only {reads} reads completed while B held its transaction");
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"a read waited {slowest.TotalMilliseconds:0} ms: it was queued behind the DDL");
        Assert.Equal(b.ProcessID, Assert.Single(waiting.Blockers).Pid);
        Assert.Equal("billing-report", waiting.Blockers[0].ApplicationName);
        Assert.StartsWith("idle in transaction", waiting.Blockers[0].State);
        Assert.Equal("SELECT count(*) FROM public.contacts WHERE email LIKE ?", waiting.Blockers[0].Query);
        Assert.Equal(1, waiting.Statement.Number);
        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.True(harness.EventsOf<RunFinished>().Single().At >= bEnded);
        Assert.Empty(harness.EventsOf<StatementRetried>());   // it never knocked while B was inside
        var first = harness.EventsOf<StatementFinished>().First(f => f.Statement.Number == 1);
        Assert.True(first.LockWait >= TimeSpan.FromSeconds(2));
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
        var clock = Stopwatch.StartNew();
        var result = await harness.RunAsync(SeedMigration.Sql);

        Assert.Equal(RunOutcome.Failed, result.Outcome);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
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
