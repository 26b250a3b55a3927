using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Options;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

internal static class Sql
{
    public static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>Polls <paramref name="condition"/> (a boolean query) until it holds; bounded, failing naming <paramref name="what"/>.</summary>
    public static Task WaitUntilAsync(PostgresDatabase db, string condition, string what, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => db.ScalarAsync<bool>(condition), what, timeout);
}

public class InvalidIndexTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private const string Build = "CREATE UNIQUE INDEX CONCURRENTLY idx_contacts_email_unique ON public.contacts (email);";

    [Fact]
    public async Task A_failed_concurrent_build_leaves_an_invalid_index_that_the_next_run_drops_before_rebuilding()
    {
        await db.ExecuteAsync("INSERT INTO public.contacts (organization_id, name, email) SELECT organization_id, 'Twin', email FROM public.contacts LIMIT 1");

        var first = new ExecutorHarness(db.ConnectionString);
        var failed = await first.RunAsync(Build);

        Assert.Equal(RunOutcome.Failed, failed.Outcome);
        Assert.Equal("23505", failed.Failure!.SqlState);
        Assert.Contains("INVALID index", failed.Failure.Message);
        Assert.False(await db.ScalarAsync<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.idx_contacts_email_unique'::regclass"));

        await db.ExecuteAsync("DELETE FROM public.contacts WHERE name = 'Twin'");
        var second = new ExecutorHarness(db.ConnectionString);
        var result = await second.RunAsync(Build);

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Equal("public.idx_contacts_email_unique", Assert.Single(second.EventsOf<InvalidIndexDropped>()).Index);
        Assert.True(await db.ScalarAsync<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.idx_contacts_email_unique'::regclass"));
    }
}

public class TransactionBlockRetryTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task A_lock_timeout_inside_a_block_retries_the_whole_block_which_commits_once()
    {
        await db.ExecuteAsync("CREATE TABLE retry_probe (id int)");
        await db.ExecuteAsync("CREATE TABLE retry_log (note text)");

        // B takes its lock just as the first attempt reaches the ALTER, after the INSERT ran in the block and
        // after the executor looked for blockers: the first attempt knocks and times out, whatever the timing.
        // B lets go when the executor reports the retry. (Synchronous calls: OnEvent runs on the executor's thread.)
        await using var b = await db.OpenAsync("batch-job");
        NpgsqlTransaction? bTx = null;
        var harness = new ExecutorHarness(db.ConnectionString,
            new ExecutionOptions { LockTimeout = TimeSpan.FromSeconds(1), LockRetryBudget = TimeSpan.FromSeconds(30) });
        harness.OnEvent = e =>
        {
            if (e is StatementStarted { Attempt: 1 } started && started.Statement.StartsWith("ALTER"))
            {
                bTx = b.BeginTransaction();
                using var take = new NpgsqlCommand("LOCK TABLE retry_probe IN ACCESS SHARE MODE", b, bTx);
                take.ExecuteNonQuery();
            }
            else if (e is StatementRetried && bTx is { } holding)
            {
                holding.Commit();
                bTx = null;
            }
        };

        var result = await Poll.WithinAsync(harness.RunAsync("""
            BEGIN;
            INSERT INTO retry_log (note) VALUES ('block ran');
            ALTER TABLE retry_probe ADD COLUMN extra int;
            COMMIT;
            """), "the run");

        Assert.True(result.Succeeded, result.Failure?.Message);
        var retried = Assert.Single(harness.EventsOf<StatementRetried>(), r => r.Attempt == 1);
        Assert.Equal(TransactionControl.Begin, retried.Statement.Transaction);   // the block, from its BEGIN
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM retry_log"));   // the first attempt was rolled back
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'retry_probe' AND column_name = 'extra'"));
        Assert.All(harness.EventsOf<StatementFinished>(), f => Assert.True(f.Attempts >= 2));
    }
}

public class PauseAndCancelTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_pause_stops_at_the_next_statement_boundary_and_resume_goes_on()
    {
        var harness = new ExecutorHarness(db.ConnectionString);
        harness.OnEvent = e =>
        {
            if (e is StatementFinished { Statement.Number: 1 })
                harness.Control.Pause();
        };
        var run = harness.RunAsync("CREATE TABLE pause_a (id int); CREATE TABLE pause_b (id int);");

        var paused = await harness.WaitForAsync<RunPaused>();
        await Task.Delay(300);
        Assert.Equal(2, paused.Next.Number);
        Assert.False(run.IsCompleted);
        Assert.DoesNotContain(harness.EventsOf<StatementStarted>(), s => s.Statement.Number == 2);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'pause_b'"));

        harness.Control.Resume();
        var result = await run;

        Assert.True(result.Succeeded);
        Assert.Single(harness.EventsOf<RunResumed>());
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'pause_b'"));
    }

    [Fact]
    public async Task Cancel_during_a_concurrent_build_cancels_it_and_leaves_no_invalid_index()
    {
        // An open writer makes the concurrent build wait ("waiting for writers before build").
        await using var writer = await db.OpenAsync("slow-writer");
        var writerTx = await writer.BeginTransactionAsync();
        await Sql.ScalarAsync(writer, "UPDATE public.contacts SET name = name WHERE id = (SELECT id FROM public.contacts LIMIT 1)");

        var harness = new ExecutorHarness(db.ConnectionString);
        var run = harness.RunAsync("CREATE INDEX CONCURRENTLY idx_cancel_me ON public.contacts (name);");
        // Past creating the (still INVALID) index, waiting for the writer itself: not for a passing autovacuum.
        await Sql.WaitUntilAsync(db, $"""
            SELECT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN pg_stat_progress_create_index p ON p.pid = a.pid
                           WHERE a.application_name = 'chatops:{harness.RunId}' AND p.phase = 'waiting for writers before build'
                             AND {writer.ProcessID} = ANY (pg_blocking_pids(a.pid)))
            """, "the build to wait for the writer");

        harness.Control.Cancel();
        // Dropping the INVALID leftover CONCURRENTLY also waits for the writer; let it finish.
        await Sql.WaitUntilAsync(db, $"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'chatops:{harness.RunId}' AND query LIKE 'DROP INDEX CONCURRENTLY%')",
            "the executor to drop the leftover");
        await writerTx.CommitAsync();
        var result = await Poll.WithinAsync(run, "the cancelled run's end once the writer committed");

        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        Assert.Equal(1, Assert.Single(harness.EventsOf<RunCancelled>()).During!.Number);
        Assert.Single(harness.EventsOf<InvalidIndexDropped>());
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'idx_cancel_me'"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_index WHERE NOT indisvalid"));
    }
}

public class PostconditionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Postconditions_judge_each_seed_statement_not_done_before_and_done_after()
    {
        var analyses = StatementAnalyzer.AnalyzeScript(SqlScript.Parse(SeedMigration.Sql)).Where(a => a.Postconditions.Count > 0).ToList();
        Assert.Equal(["ALTER TABLE", "CREATE INDEX CONCURRENTLY", "CREATE INDEX CONCURRENTLY", "CREATE INDEX CONCURRENTLY", "CREATE FUNCTION", "DROP POLICY", "CREATE POLICY"],
            analyses.Select(a => a.Kind));

        await using var connection = await db.OpenAsync("test");
        var catalog = new TargetCatalog(connection);
        foreach (var a in analyses.Where(a => a.Kind != "DROP POLICY"))
            Assert.Equal(PostconditionVerdict.NotDone, await catalog.JudgeAsync(a.Postconditions, CancellationToken.None));

        await db.RunScriptAsync(SeedMigration.Sql);

        foreach (var a in analyses.Where(a => a.Kind != "DROP POLICY"))
            Assert.Equal(PostconditionVerdict.Done, await catalog.JudgeAsync(a.Postconditions, CancellationToken.None));
    }

    [Fact]
    public async Task A_statement_interrupted_by_a_crash_is_skipped_when_its_postcondition_holds()
    {
        await using var scratch = new ScratchTable(db, "crash_probe");
        const string script = "ALTER TABLE crash_probe ADD COLUMN note text; ALTER TABLE crash_probe ADD COLUMN other int;";
        var journal = new InMemoryExecutionJournal();
        // The earlier run started statement 1 and died before journaling it; the column did get added.
        await journal.StartedAsync([SqlScript.Parse(script).Statements[0]], CancellationToken.None);
        await db.ExecuteAsync("ALTER TABLE crash_probe ADD COLUMN note text");

        var harness = new ExecutorHarness(db.ConnectionString) { Journal = journal };
        var result = await harness.RunAsync(script);

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Contains("took effect: column crash_probe.note exists", Assert.Single(harness.EventsOf<StatementSkipped>()).Reason);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'crash_probe' AND column_name = 'other'"));
    }

    private sealed class ScratchTable : IAsyncDisposable
    {
        private readonly PostgresDatabase _db;
        private readonly string _name;

        public ScratchTable(PostgresDatabase db, string name)
        {
            (_db, _name) = (db, name);
            db.ExecuteAsync($"CREATE TABLE {name} (id int)").GetAwaiter().GetResult();
        }

        public async ValueTask DisposeAsync() => await _db.ExecuteAsync($"DROP TABLE {_name}");
    }
}

public class RunLockTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task A_second_run_against_the_same_target_is_refused_naming_the_first()
    {
        var first = new ExecutorHarness(db.ConnectionString);
        first.Control.Pause();   // holds the run lock, paused before its first statement
        var running = first.RunAsync("CREATE TABLE lock_probe (id int);");
        await first.WaitForAsync<RunPaused>();

        var second = new ExecutorHarness(db.ConnectionString);
        var refused = await Assert.ThrowsAsync<TargetBusyException>(() => second.RunAsync("CREATE TABLE lock_probe_2 (id int);"));
        Assert.Contains($"chatops:{first.RunId}", refused.Message);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'lock_probe_2'"));

        first.Control.Resume();
        Assert.True((await running).Succeeded);

        // Once the first run ended, the lock is free again.
        var third = new ExecutorHarness(db.ConnectionString);
        Assert.True((await third.RunAsync("CREATE TABLE lock_probe_3 (id int);")).Succeeded);
    }
}

public class IndexBuildWorkersTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    private const string ReportSetting = "DO $$ BEGIN RAISE NOTICE 'workers=%', current_setting('max_parallel_maintenance_workers'); END $$;";

    [Fact]
    public async Task IndexBuildWorkers_bounds_the_run_sessions_parallel_maintenance_workers()
    {
        var harness = new ExecutorHarness(db.ConnectionString, new ExecutionOptions { IndexBuildWorkers = 0 });

        var result = await harness.RunAsync(ReportSetting);

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Contains(harness.EventsOf<NoticeReceived>(), n => n.Message == "workers=0");
    }

    [Fact]
    public async Task Without_IndexBuildWorkers_the_servers_setting_stands()
    {
        var server = await db.ScalarAsync<string>("SHOW max_parallel_maintenance_workers");
        var harness = new ExecutorHarness(db.ConnectionString);

        var result = await harness.RunAsync(ReportSetting);

        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Contains(harness.EventsOf<NoticeReceived>(), n => n.Message == $"workers={server}");
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, true)]
    [InlineData(4, true)]
    [InlineData(null, true)]
    public void IndexBuildWorkers_must_be_a_worker_count(int? workers, bool valid)
    {
        var result = new ExecutionOptionsValidator().Validate(null, new ExecutionOptions { IndexBuildWorkers = workers });

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
            Assert.Contains("ChatOps:Execution:IndexBuildWorkers", result.FailureMessage);
    }
}
