using ChatOps.Core.Execution;
using ChatOps.Core.Migrations;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.History;
using ChatOps.Postgres.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

/// <summary>The target's own history (<c>chatops.migration_history</c>, <c>chatops.statement_journal</c>) decides what a run does.</summary>
public class HistoryTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    private static RunDecision Decision(IReadOnlyList<RunbookEvent> events) => Assert.Single(events.OfType<HistoryConsulted>()).Decision;

    private static IEnumerable<StatementSkipped> Skipped(IReadOnlyList<RunbookEvent> events) =>
        events.OfType<ExecutionReported>().Select(e => e.Execution).OfType<StatementSkipped>();

    [Fact]
    public async Task A_failed_run_resumes_after_its_completed_statements_and_an_applied_one_is_not_applied_again()
    {
        const string migration = "h1_resume";
        const string script = """
            CREATE TABLE h1_a (id int);
            CREATE TABLE h1_log (n int);
            INSERT INTO h1_log VALUES (1);
            INSERT INTO h1_missing VALUES (1);
            CREATE TABLE h1_b (id int);
            """;
        var (failed, failedEvents) = await Runbooks.RunAsync(db.ConnectionString, script, MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.Failed, failed.Outcome);
        Assert.IsType<RunDecision.Fresh>(Decision(failedEvents));
        Assert.Contains(failed.Reasons, r => r.Contains("h1_missing", StringComparison.Ordinal));
        Assert.Equal("failed 3", await db.ScalarAsync<string>(
            "SELECT outcome || ' ' || (SELECT count(*) FROM chatops.statement_journal WHERE migration = $1 AND completed_at IS NOT NULL) FROM chatops.migration_history WHERE migration = $1",
            migration));

        // Fixed outside the file; the same file again: the INSERT is not repeated, the CREATE TABLEs do not fail "already exists".
        await db.ExecuteAsync("CREATE TABLE h1_missing (id int)");
        var (resumed, resumedEvents) = await Runbooks.RunAsync(db.ConnectionString, script, MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.Succeeded, resumed.Outcome);
        Assert.IsType<RunDecision.Resume>(Decision(resumedEvents));
        Assert.Equal([1, 2, 3], Skipped(resumedEvents).Select(s => s.Statement.Number));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM h1_log"));

        // Applied: a third run does nothing and says so.
        var (again, againEvents) = await Runbooks.RunAsync(db.ConnectionString, script, MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.AlreadyApplied, again.Outcome);
        Assert.True(again.Succeeded);
        Assert.Contains("already applied", Decision(againEvents).Describe());
        Assert.DoesNotContain(againEvents, e => e is PhaseStarted);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM h1_log"));

        // Who, when, what, how it ended — for psql users too.
        Assert.Equal("run failed tests|run succeeded tests", await db.ScalarAsync<string>(
            "SELECT string_agg(kind || ' ' || outcome || ' ' || applied_by, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = $1", migration));
        Assert.Equal(64, (await db.ScalarAsync<string>("SELECT min(sha256) FROM chatops.migration_history WHERE migration = $1", migration)).Length);
    }

    [Fact]
    public async Task A_fix_of_the_failed_statement_resumes_a_change_to_what_already_ran_is_refused_unless_restart()
    {
        const string migration = "h2_fix";
        var (failed, _) = await Runbooks.RunAsync(db.ConnectionString,
            "CREATE TABLE h2_a (id int); INSERT INTO h2_a VALUES (1); INSERT INTO h2_nope VALUES (1);", MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.Failed, failed.Outcome);

        // The failing statement rewritten: what ran is unchanged, so the run resumes with the new text.
        const string fixedScript = "CREATE TABLE h2_a (id int); INSERT INTO h2_a VALUES (1); INSERT INTO h2_a VALUES (3);";
        var changedEarlier = "CREATE TABLE h2_a (id bigint); INSERT INTO h2_a VALUES (1); INSERT INTO h2_a VALUES (3);";
        var (refused, refusedEvents) = await Runbooks.RunAsync(db.ConnectionString, changedEarlier, MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.Refused, refused.Outcome);
        Assert.Contains("--restart", Assert.Single(refused.Reasons));
        Assert.DoesNotContain(refusedEvents, e => e is PhaseStarted { Phase: not RunbookPhase.Verdict });

        var (resumed, resumedEvents) = await Runbooks.RunAsync(db.ConnectionString, fixedScript, MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.Succeeded, resumed.Outcome);
        Assert.True(Assert.IsType<RunDecision.Resume>(Decision(resumedEvents)).FileChanged);
        Assert.Equal("1,3", await db.ScalarAsync<string>("SELECT string_agg(id::text, ',' ORDER BY id) FROM h2_a"));

        // Applied from another version of the file: refused; --force runs it (here it fails: the table exists).
        var (another, _) = await Runbooks.RunAsync(db.ConnectionString, changedEarlier, MigrationRunbook.Empty, migration: migration);
        Assert.Equal(RunbookOutcome.Refused, another.Outcome);
        Assert.Contains("--force", Assert.Single(another.Reasons));
        var (forced, forcedEvents) = await Runbooks.RunAsync(db.ConnectionString, changedEarlier, MigrationRunbook.Empty, migration: migration, force: true);
        Assert.IsType<RunDecision.Fresh>(Decision(forcedEvents));
        Assert.Equal(RunbookOutcome.Failed, forced.Outcome);
        Assert.Contains(forced.Reasons, r => r.Contains("already exists", StringComparison.Ordinal));

        // --restart after a failure runs from the first statement.
        await db.ExecuteAsync("DROP TABLE h2_a");
        var (restarted, restartedEvents) = await Runbooks.RunAsync(db.ConnectionString, changedEarlier, MigrationRunbook.Empty, migration: migration, restart: true);
        Assert.Equal(RunbookOutcome.Succeeded, restarted.Outcome);
        Assert.Empty(Skipped(restartedEvents));
    }

    [Fact]
    public async Task A_second_runbook_is_refused_before_its_checks_while_the_first_holds_the_run_lock_from_checks_to_verdict()
    {
        var control = new ExecutionControl();
        control.Pause();
        var paused = new TaskCompletionSource();
        var first = Runbooks.RunAsync(db.ConnectionString, "CREATE TABLE h3_once (id int); INSERT INTO h3_once VALUES (1);", MigrationRunbook.Empty,
            control, e => { if (e is ExecutionReported { Execution: RunPaused }) paused.TrySetResult(); }, migration: "h3_once");
        await paused.Task.WaitAsync(TimeSpan.FromMinutes(2));

        var secondEvents = new List<RunbookEvent>();
        var busy = await Assert.ThrowsAsync<TargetBusyException>(() => Runbooks.RunAsync(db.ConnectionString,
            "CREATE TABLE h3_twice (id int);", MigrationRunbook.Empty, onEvent: secondEvents.Add, migration: "h3_other"));
        Assert.Empty(secondEvents);   // no check, no probe, no history read
        Assert.Contains("pg_terminate_backend(", busy.Message);
        Assert.Contains("h3_once", busy.Message);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'h3_twice'"));

        control.Resume();
        var (result, _) = await first;
        Assert.Equal(RunbookOutcome.Succeeded, result.Outcome);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM h3_once"));
    }

    [Fact]
    public async Task Rollback_of_a_migration_that_never_ran_says_so_and_touches_nothing()
    {
        var events = new List<ExecutionEvent>();
        var result = await new RollbackRunner(new Options.ExecutionOptions(), TimeProvider.System).RunAsync(
            new RollbackRequest(db.ConnectionString, "h4_never", "sha", Core.Scripts.SqlScript.Parse("DROP TABLE h4_table;"), "h4", events.Add),
            CancellationToken.None);
        Assert.True(result.Succeeded);
        Assert.Contains("was never run on this database", result.NothingToDo);
        Assert.Empty(events);
    }

    [Fact]
    public async Task An_entry_left_running_by_a_dead_process_is_marked_interrupted_and_its_run_resumes()
    {
        const string migration = "h5_crash";
        const string script = "CREATE TABLE h5_a (id int); CREATE TABLE h5_b (id int);";
        // What a killed process leaves: statement 1 journaled as completed, the entry still "running".
        await using (var history = await TargetHistory.OpenAsync(db.ConnectionString, "h5-dead", CancellationToken.None))
        {
            await history.EnsureAsync(CancellationToken.None);
            await history.BeginAsync(migration, Runbooks.Sha256Of(script), HistoryKind.Run, "h5-dead", "someone", CancellationToken.None);
            var parsed = Core.Scripts.SqlScript.Parse(script);
            var journal = history.Journal(migration, Runbooks.Sha256Of(script), parsed, "h5-dead");
            await journal.StartedAsync([parsed.Statements[0]], CancellationToken.None);
            await journal.CompletedAsync(new JournalEntry(1, 1, DateTimeOffset.UtcNow, null, Core.Planning.PostconditionVerdict.Unknown), CancellationToken.None);
        }
        await db.ExecuteAsync("CREATE TABLE h5_a (id int)");

        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, script, MigrationRunbook.Empty, migration: migration);

        Assert.Equal(RunbookOutcome.Succeeded, result.Outcome);
        Assert.IsType<RunDecision.Resume>(Decision(events));
        Assert.Equal(1, Assert.Single(Skipped(events)).Statement.Number);
        Assert.Equal("interrupted|succeeded", await db.ScalarAsync<string>(
            "SELECT string_agg(outcome, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = $1", migration));
    }
}

/// <summary>The history's edges: a first statement that failed, a failed verdict, a role that may not create the schema, a rollback with no record.</summary>
public class HistoryEdgeTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task A_fix_of_a_first_statement_that_failed_resumes_since_nothing_ran()
    {
        var (failed, _) = await Runbooks.RunAsync(db.ConnectionString, "INSERT INTO he_missing VALUES (1); CREATE TABLE he_b (id int);",
            MigrationRunbook.Empty, migration: "he_first");
        Assert.Equal(RunbookOutcome.Failed, failed.Outcome);

        var (fixedRun, events) = await Runbooks.RunAsync(db.ConnectionString, "CREATE TABLE he_missing (id int); CREATE TABLE he_b (id int);",
            MigrationRunbook.Empty, migration: "he_first");
        Assert.Equal(RunbookOutcome.Succeeded, fixedRun.Outcome);
        Assert.IsType<RunDecision.Resume>(Assert.Single(events.OfType<HistoryConsulted>()).Decision);
    }

    [Fact]
    public async Task A_run_whose_verdict_failed_is_not_reported_as_applied_the_second_time()
    {
        const string holds = "BEGIN; CREATE TABLE IF NOT EXISTS he_hold (id int); LOCK TABLE he_hold IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0.8); COMMIT;";
        var (first, _) = await Runbooks.RunAsync(db.ConnectionString, holds, MigrationRunbook.Empty, migration: "he_verdict");
        Assert.Equal(RunbookOutcome.Failed, first.Outcome);
        Assert.Contains(first.Reasons, r => r.Contains("longest ACCESS EXCLUSIVE hold", StringComparison.Ordinal));

        var (second, events) = await Runbooks.RunAsync(db.ConnectionString, holds, MigrationRunbook.Empty, migration: "he_verdict");
        Assert.Equal(RunbookOutcome.Failed, second.Outcome);
        Assert.IsType<RunDecision.AppliedButFailed>(Assert.Single(events.OfType<HistoryConsulted>()).Decision);
        Assert.Contains("its verdict failed", Assert.Single(second.Reasons));
        Assert.DoesNotContain(events, e => e is PhaseStarted);
    }

    [Fact]
    public async Task A_role_that_may_not_create_the_history_schema_is_refused_with_the_statement_that_fixes_it()
    {
        await db.ExecuteAsync("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'he_owner') THEN CREATE ROLE he_owner LOGIN; END IF; END $$");
        await db.ExecuteAsync("CREATE TABLE he_owned (id int)");
        await db.ExecuteAsync("ALTER TABLE he_owned OWNER TO he_owner");
        await db.ExecuteAsync("GRANT CREATE ON SCHEMA public TO he_owner");   // the monitoring functions are installed there
        var asOwner = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = "he_owner" }.ConnectionString;
        // Another test of this class may have created the schema already: start without it.
        await db.ExecuteAsync("DROP SCHEMA IF EXISTS chatops CASCADE");

        var (refused, _) = await Runbooks.RunAsync(asOwner, "ALTER TABLE he_owned ADD COLUMN note text;", MigrationRunbook.Empty, migration: "he_schema");
        Assert.Equal(RunbookOutcome.Refused, refused.Outcome);
        Assert.Contains("CREATE SCHEMA chatops AUTHORIZATION he_owner;", Assert.Single(refused.Reasons));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'he_owned' AND column_name = 'note'"));

        await db.ExecuteAsync("CREATE SCHEMA chatops AUTHORIZATION he_owner");
        var (applied, _) = await Runbooks.RunAsync(asOwner, "ALTER TABLE he_owned ADD COLUMN note text;", MigrationRunbook.Empty, migration: "he_schema");
        Assert.True(applied.Outcome == RunbookOutcome.Succeeded, string.Join("; ", applied.Reasons));
    }

    [Fact]
    public async Task A_rollback_without_any_record_asks_the_catalog_whether_there_is_anything_to_undo()
    {
        var runner = new RollbackRunner(new Options.ExecutionOptions(), TimeProvider.System);
        var script = Core.Scripts.SqlScript.Parse("DROP INDEX IF EXISTS public.he_psql_idx;");

        var nothing = await runner.RunAsync(new RollbackRequest(db.ConnectionString, "he_psql", "sha", script, "he-rb1", _ => { }), CancellationToken.None);
        Assert.Contains("the catalog agrees", nothing.NothingToDo);

        // Applied by hand with psql: no history, but the index is there.
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS he_psql_t (id int)");
        await db.ExecuteAsync("CREATE INDEX he_psql_idx ON he_psql_t (id)");
        var done = await runner.RunAsync(new RollbackRequest(db.ConnectionString, "he_psql", "sha", script, "he-rb2", _ => { }), CancellationToken.None);
        Assert.Null(done.NothingToDo);
        Assert.Contains("no entry in chatops.migration_history, but the catalog shows", done.Note);
        Assert.True(done.Succeeded);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'he_psql_idx'"));
    }
}
