using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Runbooks;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>The wrong database is caught before anything is written to it.</summary>
public class WrongTargetTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task A_database_without_the_tables_the_script_alters_is_refused_before_anything_is_installed_or_recorded()
    {
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, SeedMigration.Sql, Runbooks.Seed, migration: SeedMigration.Id);

        Assert.Equal(RunbookOutcome.Refused, result.Outcome);
        var check = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "tables exist").Check;
        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains($"public.contacts does not exist in database {db.Name}", check.Detail);
        Assert.DoesNotContain(events, e => e is CheckCompleted { Check.Name: "privileges", Check.Detail: var d } && d.Contains("created by the migration", StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => e is PhaseStarted { Phase: RunbookPhase.Baseline or RunbookPhase.Migration });
        Assert.Equal("no schema, no functions", await db.ScalarAsync<string>(
            "SELECT concat_ws(', ', CASE WHEN to_regnamespace('chatops') IS NULL THEN 'no schema' END, CASE WHEN to_regprocedure('public.quick_performance_check()') IS NULL THEN 'no functions' END)"));
    }

}

/// <summary>… and a table the script creates is not "missing".</summary>
public class CreatedTableTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task Tables_the_script_creates_itself_need_not_exist()
    {
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString,
            "CREATE TABLE IF NOT EXISTS public.wt_new (id int); ALTER TABLE wt_new ADD COLUMN note text;", MigrationRunbook.Empty);
        Assert.True(result.Succeeded, string.Join("; ", result.Reasons));
        Assert.DoesNotContain(events, e => e is CheckCompleted { Check.Name: "tables exist" });
    }
}

/// <summary>A read-only target passes every read: it is refused before the run.</summary>
public class ReadOnlyTargetTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_read_only_target_fails_the_writable_check_before_anything_is_written()
    {
        await db.ExecuteAsync($"ALTER DATABASE {db.Name} SET default_transaction_read_only = on");
        try
        {
            var (result, events) = await Runbooks.RunAsync(db.ConnectionString, SeedMigration.Sql, Runbooks.Seed, migration: SeedMigration.Id);
            Assert.Equal(RunbookOutcome.Refused, result.Outcome);
            var check = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "target writable").Check;
            Assert.Equal(CheckStatus.Fail, check.Status);
            Assert.Contains("read-only", check.Detail);
        }
        finally
        {
            // Sessions opened before the ALTER keep their setting; a fresh one gets the database's again.
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Options = "-c default_transaction_read_only=off" }.ConnectionString);
            await connection.OpenAsync();
            await using var reset = new NpgsqlCommand($"ALTER DATABASE {db.Name} RESET default_transaction_read_only", connection);
            await reset.ExecuteNonQueryAsync();
        }
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name = 'analytics_enabled'"));
    }
}

/// <summary>No query of the bot waits silently: a check stuck behind an ACCESS EXCLUSIVE holder gives up and names it.</summary>
public class StuckCheckTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_check_behind_an_access_exclusive_holder_gives_up_after_its_lock_timeout_naming_the_holder()
    {
        await using var holder = await db.OpenAsync("report-job");
        foreach (var sql in new[] { "BEGIN", "LOCK TABLE public.contacts IN ACCESS EXCLUSIVE MODE" })
        {
            await using var command = new NpgsqlCommand(sql, holder);
            await command.ExecuteNonQueryAsync();
        }

        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, SeedMigration.Sql, Runbooks.Seed, migration: SeedMigration.Id);

        Assert.Equal(RunbookOutcome.TargetUnavailable, result.Outcome);
        var reason = Assert.Single(result.Reasons);
        Assert.Contains("during pre-deployment checks", reason);
        Assert.Contains($"pid {holder.ProcessID} (\"report-job\", idle in transaction", reason);
        Assert.Contains($"SELECT pg_terminate_backend({holder.ProcessID});", reason);
        Assert.Contains(events, e => e is PhaseFinished { Phase: RunbookPhase.PreDeployment, Ok: false });
        Assert.Single(events.OfType<VerdictReached>());
    }
}

/// <summary>Old snapshots on any table are named before the run: every CONCURRENTLY statement would wait for them.</summary>
public class OldSnapshotTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_transaction_holding_a_snapshot_on_another_table_is_warned_about_before_a_concurrent_build()
    {
        await using var reporter = await db.OpenAsync("nightly-report");
        foreach (var sql in new[] { "BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT count(*) FROM public.organizations" })
        {
            await using var command = new NpgsqlCommand(sql, reporter);
            await command.ExecuteNonQueryAsync();
        }
        await Task.Delay(TimeSpan.FromMilliseconds(1200));

        var (_, events) = await Runbooks.RunAsync(db.ConnectionString, "SELECT 1;", MigrationRunbook.Empty,
            execution: new ExecutionOptions { OldSnapshotWarning = TimeSpan.FromSeconds(1) });
        var plain = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "old snapshot").Check;
        Assert.Equal(CheckStatus.Warn, plain.Status);
        Assert.Contains($"pid {reporter.ProcessID} (\"nightly-report\"", plain.Detail);
        Assert.Contains("the migration does not wait for it", plain.Detail);

        var (_, buildEvents) = await Runbooks.RunAsync(db.ConnectionString, "SELECT 1; CREATE INDEX CONCURRENTLY IF NOT EXISTS os_idx ON public.contacts (email);",
            MigrationRunbook.Empty, execution: new ExecutionOptions { OldSnapshotWarning = TimeSpan.FromSeconds(1) },
            control: CancelledBeforeTheMigration());
        var build = Assert.Single(buildEvents.OfType<CheckCompleted>(), c => c.Check.Name == "old snapshot").Check;
        Assert.Contains("each CONCURRENTLY statement waits for it to end", build.Detail);
    }

    /// <summary>The build would wait for the open snapshot: stop the run once the checks are done.</summary>
    private static Core.Execution.ExecutionControl CancelledBeforeTheMigration()
    {
        var control = new Core.Execution.ExecutionControl();
        control.Pause();
        _ = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            control.Cancel();
        });
        return control;
    }
}
