using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Bot.Tests;

/// <summary>Migrations of our own in a temporary folder, for runs the seed cannot show.</summary>
internal sealed class MigrationFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("chatops-hardening-").FullName;

    public MigrationFolder With(string id, string sql, string? rollback = null, string? runbook = null)
    {
        File.WriteAllText(System.IO.Path.Combine(Path, id + ".sql"), sql);
        if (rollback is not null) File.WriteAllText(System.IO.Path.Combine(Path, id + ".rollback.sql"), rollback);
        if (runbook is not null) File.WriteAllText(System.IO.Path.Combine(Path, id + ".runbook.json"), runbook);
        return this;
    }

    public Dictionary<string, string> Environment(params (string Key, string Value)[] more)
    {
        var environment = new Dictionary<string, string>
        {
            ["ChatOps__Migrations__Directory"] = Path,
            ["ChatOps__Monitoring__SampleInterval"] = "00:00:00.500",
        };
        foreach (var (k, v) in more) environment[k] = v;
        return environment;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>The target's history through the command line: applied once, said so after, rolled back once, listed.</summary>
public class HistoryCommandLineTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static readonly Dictionary<string, string> Fast = new() { ["ChatOps__Monitoring__SampleInterval"] = "00:00:00.500" };

    [Fact]
    public async Task Run_twice_applies_once_rollback_twice_rolls_back_once_and_list_shows_the_state()
    {
        var never = await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", db.ConnectionString]);
        Assert.True(never.ExitCode == 0, never.Output + never.Error);
        Assert.Contains($"nothing to roll back: {SeedMigration.Id} was never run on this database", never.Output);

        var first = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", db.ConnectionString], Fast);
        Assert.True(first.ExitCode == 0, first.Output + first.Error);
        var second = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", db.ConnectionString], Fast);
        Assert.True(second.ExitCode == 0, second.Output + second.Error);
        Assert.Contains($"{SeedMigration.Id} is applied already on this database: nothing to do", second.Output);
        Assert.DoesNotContain("── phase 2", second.Output);

        var listed = await ChatOpsProcess.RunAsync(["list", "--target", db.ConnectionString]);
        Assert.True(listed.ExitCode == 0, listed.Output + listed.Error);
        Assert.Matches(@"applied \d{4}-\d\d-\d\d \d\d:\d\dZ by .+ \(command line\) \(verdict: success\)", listed.Output);

        var rolledBack = await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", db.ConnectionString]);
        Assert.True(rolledBack.ExitCode == 0, rolledBack.Output + rolledBack.Error);
        Assert.Contains("⏪ ROLLED BACK", rolledBack.Output);
        var again = await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", db.ConnectionString]);
        Assert.True(again.ExitCode == 0, again.Output + again.Error);
        Assert.Contains("nothing to roll back", again.Output);
        Assert.Contains("rolled back already", again.Output);

        listed = await ChatOpsProcess.RunAsync(["list", "--target", db.ConnectionString]);
        Assert.Contains("rolled back ", listed.Output);
        Assert.Contains("`run` applies it again", listed.Output);
        Assert.Equal("run succeeded|rollback succeeded", await db.ScalarAsync<string>(
            "SELECT string_agg(kind || ' ' || outcome, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = $1", SeedMigration.Id));
    }
}

/// <summary>Ctrl-C, kill -9 and a terminated session during a concurrent build that waits for an old snapshot.</summary>
public class InterruptionTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    private const string Build = "CREATE INDEX CONCURRENTLY intr_idx ON intr_t (id);";

    /// <summary>An open snapshot the build must outwait, and the build waiting for it (as the server shows).</summary>
    private async Task<NpgsqlConnection> HoldSnapshotAsync()
    {
        var reporter = await db.OpenAsync("nightly-report");
        foreach (var sql in new[] { "BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT count(*) FROM pg_class" })
        {
            await using var command = new NpgsqlCommand(sql, reporter);
            await command.ExecuteNonQueryAsync();
        }
        return reporter;
    }

    private Task BuildWaitingAsync() => Poll.UntilAsync(() => db.ScalarAsync<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'chatops:%' AND wait_event = 'virtualxid')"),
        "the migration's concurrent build to wait for the old snapshot", TimeSpan.FromMinutes(2));

    private async Task<int> ExecutorPidAsync() => await db.ScalarAsync<int>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'chatops:%' AND wait_event = 'virtualxid'");

    [Fact]
    public async Task Ctrl_c_cancels_the_build_drops_its_invalid_index_says_where_it_stopped_and_exits_130()
    {
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS intr_t (id int)");
        using var folder = new MigrationFolder().With("intr_ctrl_c", "CREATE TABLE intr_done (id int);\n" + Build);
        await using var reporter = await HoldSnapshotAsync();
        using var run = ChatOpsProcess.Start(["run", "intr_ctrl_c", "--target", db.ConnectionString], folder.Environment());
        await BuildWaitingAsync();

        run.Signal("INT");
        var result = await run.WaitAsync();

        Assert.True(result.ExitCode == 130, result.Output + result.Error);
        Assert.Contains("SIGINT: stopping the run", result.Error);
        Assert.Contains("■ CANCELLED: 1 statement(s) of this run completed", result.Output);
        Assert.Contains("To continue: chatops run intr_ctrl_c", result.Output);
        Assert.Contains("🧹 dropped INVALID index", result.Output);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'intr_idx'"));
        Assert.Equal("cancelled", await db.ScalarAsync<string>("SELECT outcome FROM chatops.migration_history WHERE migration = 'intr_ctrl_c'"));
    }

    [Fact]
    public async Task Sigterm_cancels_like_ctrl_c()
    {
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS intr_t (id int)");
        using var folder = new MigrationFolder().With("intr_term_signal", Build.Replace("intr_idx", "intr_sigterm_idx"));
        await using var reporter = await HoldSnapshotAsync();
        using var run = ChatOpsProcess.Start(["run", "intr_term_signal", "--target", db.ConnectionString], folder.Environment());
        await BuildWaitingAsync();

        run.Signal("TERM");
        var result = await run.WaitAsync();

        Assert.True(result.ExitCode == 130, result.Output + result.Error);
        Assert.Contains("SIGTERM: stopping the run", result.Error);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'intr_sigterm_idx'"));
    }

    [Fact]
    public async Task After_kill_9_the_orphaned_session_is_named_with_its_dead_process_and_the_next_run_resumes()
    {
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS intr_t (id int)");
        using var folder = new MigrationFolder().With("intr_kill", "CREATE TABLE intr_before_kill (id int);\n" + Build.Replace("intr_idx", "intr_kill_idx"));
        // Disposed on any failure too: a snapshot left open would keep the orphaned build (and the run lock) forever.
        await using var reporter = await HoldSnapshotAsync();
        using var run = ChatOpsProcess.Start(["run", "intr_kill", "--target", db.ConnectionString], folder.Environment());
        await BuildWaitingAsync();
        var orphan = await ExecutorPidAsync();

        run.Signal("KILL");
        Assert.Equal(137, (await run.WaitAsync()).ExitCode);

        // The build's server session outlives its process and keeps the run lock.
        var refused = await ChatOpsProcess.RunAsync(["run", "intr_kill", "--target", db.ConnectionString], folder.Environment());
        Assert.True(refused.ExitCode == 3, refused.Output + refused.Error);
        Assert.Contains($"its bot process ({run.Pid} on {Environment.MachineName}) is gone", refused.Error);
        Assert.Contains($"SELECT pg_terminate_backend({orphan});", refused.Error);

        // The snapshot ends, the orphaned build completes and its session goes; the next run resumes after both statements.
        await reporter.CloseAsync();
        await Poll.UntilAsync(async () => !await db.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {orphan})"),
            "the orphaned session to end", TimeSpan.FromMinutes(2));
        var resumed = await ChatOpsProcess.RunAsync(["run", "intr_kill", "--target", db.ConnectionString], folder.Environment());
        Assert.True(resumed.ExitCode == 0, resumed.Output + resumed.Error);
        Assert.Contains("history: resuming", resumed.Output);
        Assert.Contains("skipped: completed in an earlier run (journal)", resumed.Output);
        Assert.True(resumed.Output.Contains("interrupted in an earlier run, but it took effect: index intr_kill_idx", StringComparison.Ordinal), resumed.Output);
        Assert.Equal("interrupted|succeeded", await db.ScalarAsync<string>(
            "SELECT string_agg(outcome, '|' ORDER BY id) FROM chatops.migration_history WHERE migration = 'intr_kill'"));
    }

    [Fact]
    public async Task A_terminated_session_mid_statement_is_a_failure_event_a_verdict_and_exit_1()
    {
        await db.ExecuteAsync("CREATE TABLE IF NOT EXISTS intr_t (id int)");
        using var folder = new MigrationFolder().With("intr_term", Build.Replace("intr_idx", "intr_term_idx"));
        await using var reporter = await HoldSnapshotAsync();
        using var run = ChatOpsProcess.Start(["run", "intr_term", "--target", db.ConnectionString], folder.Environment());
        await BuildWaitingAsync();

        await db.ExecuteAsync($"SELECT pg_terminate_backend({await ExecutorPidAsync()})");
        var result = await run.WaitAsync();

        Assert.True(result.ExitCode == 1, result.Output + result.Error);
        Assert.Contains("✗ #1", result.Output);
        Assert.Contains("🔴 VERDICT: FAILED", result.Output);
        Assert.DoesNotContain("Unexpected error", result.Error);
        Assert.Equal("failed", await db.ScalarAsync<string>("SELECT outcome FROM chatops.migration_history WHERE migration = 'intr_term'"));
    }
}

/// <summary>What the README promises about failing runs, through the command line.</summary>
public class FailingRunTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_success_criterion_that_fails_exits_1_with_the_reason()
    {
        using var folder = new MigrationFolder().With("long_hold", """
            BEGIN;
            LOCK TABLE public.contacts IN ACCESS EXCLUSIVE MODE;
            SELECT pg_sleep(0.8);
            COMMIT;
            """);
        var result = await ChatOpsProcess.RunAsync(["run", "long_hold", "--target", db.ConnectionString], folder.Environment());
        Assert.True(result.ExitCode == 1, result.Output + result.Error);
        Assert.Contains("🔴 VERDICT: FAILED", result.Output);
        Assert.Contains("success criterion not met: longest ACCESS EXCLUSIVE hold", result.Output);
    }

    [Fact]
    public async Task A_statement_over_statement_timeout_fails_with_57014_and_vacuum_runs_alone_in_autocommit()
    {
        using var folder = new MigrationFolder()
            .With("too_slow", "SELECT pg_sleep(5);")
            .With("vacuum_it", "VACUUM (ANALYZE) public.organizations;");
        var slow = await ChatOpsProcess.RunAsync(["run", "too_slow", "--target", db.ConnectionString],
            folder.Environment(("ChatOps__Execution__StatementTimeout", "00:00:01")));
        Assert.True(slow.ExitCode == 1, slow.Output + slow.Error);
        Assert.Contains("[57014]", slow.Output);
        Assert.Contains("statement timeout", slow.Output);

        var vacuum = await ChatOpsProcess.RunAsync(["run", "vacuum_it", "--target", db.ConnectionString], folder.Environment());
        Assert.True(vacuum.ExitCode == 0, vacuum.Output + vacuum.Error);
        Assert.Contains("✓ #1", vacuum.Output);
    }
}

/// <summary>Runbook thresholds through the command line: an override makes a trigger fire; an unknown rule is refused.</summary>
public class ThresholdOverrideTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private const string HoldsContacts = """
        BEGIN;
        LOCK TABLE public.contacts IN ACCESS EXCLUSIVE MODE;
        SELECT pg_sleep(8);
        COMMIT;
        """;

    [Fact]
    public async Task An_overridden_blocked_sessions_rule_fires_as_a_rollback_trigger_and_run_exits_1_naming_it()
    {
        using var folder = new MigrationFolder().With("blocks_app", HoldsContacts,
            runbook: """{ "thresholds": { "blocked-sessions": { "value": 0, "for": "00:00:01", "rollbackTrigger": true } } }""");
        using var run = ChatOpsProcess.Start(["run", "blocks_app", "--target", db.ConnectionString],
            folder.Environment(("ChatOps__Monitoring__MigrationSampleInterval", "00:00:00.250")));
        // The application queues behind the migration's lock while it sleeps.
        await Poll.UntilAsync(() => db.ScalarAsync<bool>(
            // This database's lock only: every test database is a copy of one template, so contacts has the same OID in all of them.
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
            "AND l.relation = 'public.contacts'::regclass AND l.mode = 'AccessExclusiveLock' AND l.granted AND a.application_name LIKE 'chatops:%')"),
            "the migration to hold contacts", TimeSpan.FromMinutes(2));
        await using var app = await db.OpenAsync("web-1");
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM public.contacts", app))
            await read.ExecuteScalarAsync();

        var result = await run.WaitAsync();
        Assert.True(result.ExitCode == 1, result.Output + result.Error);
        // The default rule (> 5 sessions for 30 s) would not have fired: the runbook's override did.
        Assert.True(result.Output.Contains("🚨 rollback trigger: application sessions blocked by the migration > 0 for 1.0 s", StringComparison.Ordinal), result.Output);
        Assert.Contains("- rollback trigger fired: application sessions blocked by the migration > 0 for 1.0 s", result.Output);
    }

    [Fact]
    public async Task An_unknown_rule_name_is_refused_naming_the_file_and_the_known_ones_before_the_target_is_touched()
    {
        using var folder = new MigrationFolder().With("typo_rule", "SELECT 1;", runbook: """{ "thresholds": { "lock-wait": { "value": 1 } } }""");
        var result = await ChatOpsProcess.RunAsync(["run", "typo_rule", "--target", db.ConnectionString], folder.Environment());
        Assert.True(result.ExitCode == 2, result.Output + result.Error);
        Assert.Contains("unknown rule 'lock-wait' (known: app-lock-wait", result.Error);
        Assert.False(await db.ScalarAsync<bool>("SELECT to_regnamespace('chatops') IS NOT NULL"));
    }
}

/// <summary>A rollback whose effect the catalog does not show: exit 1, each step timed, the failed check named.</summary>
public class UnverifiedRollbackTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_rollback_that_runs_but_is_not_verified_exits_1_with_its_steps_timed_and_the_check_that_failed()
    {
        using var folder = new MigrationFolder().With("undo_undone", "CREATE INDEX IF NOT EXISTS uu_idx ON public.contacts (email);",
            rollback: "DROP INDEX IF EXISTS public.uu_idx;\nCREATE INDEX uu_idx ON public.contacts (email);");
        var run = await ChatOpsProcess.RunAsync(["run", "undo_undone", "--target", db.ConnectionString], folder.Environment());
        Assert.True(run.ExitCode is 0 or 1, run.Output + run.Error);

        var rollback = await ChatOpsProcess.RunAsync(["rollback", "undo_undone", "--target", db.ConnectionString], folder.Environment());
        Assert.True(rollback.ExitCode == 1, rollback.Output + rollback.Error);
        Assert.Matches(@"✓ #1 +line 1 +[\d.]+ ms  DROP INDEX IF EXISTS public.uu_idx", rollback.Output);
        Assert.Matches(@"✓ #2 +line 2 +[\d.]+ ms  CREATE INDEX uu_idx", rollback.Output);
        Assert.Contains("❌ index public.uu_idx is absent", rollback.Output);
        Assert.Contains("❌ rollback ran but is not verified after", rollback.Output);
        Assert.Equal("failed", await db.ScalarAsync<string>(
            "SELECT outcome FROM chatops.migration_history WHERE migration = 'undo_undone' AND kind = 'rollback'"));
    }
}
