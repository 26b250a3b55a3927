using System.Globalization;
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
        var plain = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "old snapshot" && c.Check.Detail.Contains($"pid {reporter.ProcessID} ", StringComparison.Ordinal)).Check;
        Assert.Equal(CheckStatus.Warn, plain.Status);
        Assert.Contains($"pid {reporter.ProcessID} (\"nightly-report\"", plain.Detail);
        Assert.Contains("the migration does not wait for it", plain.Detail);

        // The build would wait for the open snapshot: the run stops at its first statement boundary, once the checks are done.
        var control = new Core.Execution.ExecutionControl();
        control.Pause();
        var (_, buildEvents) = await Runbooks.RunAsync(db.ConnectionString, "SELECT 1; CREATE INDEX CONCURRENTLY IF NOT EXISTS os_idx ON public.contacts (email);",
            MigrationRunbook.Empty, control, e => { if (e is ExecutionReported { Execution: Core.Execution.RunPaused }) control.Cancel(); },
            execution: new ExecutionOptions { OldSnapshotWarning = TimeSpan.FromSeconds(1) });
        var build = Assert.Single(buildEvents.OfType<CheckCompleted>(), c => c.Check.Name == "old snapshot" && c.Check.Detail.Contains($"pid {reporter.ProcessID} ", StringComparison.Ordinal)).Check;
        Assert.Contains("each CONCURRENTLY statement waits for it to end", build.Detail);
    }
}

/// <summary>Pre-deployment checks that fail or warn, on a real server: privileges, the RLS probe's role, long transactions.</summary>
public class PreDeploymentCheckTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_role_that_does_not_own_the_table_fails_privileges_and_a_missing_rls_role_and_a_long_transaction_warn()
    {
        await db.ExecuteAsync("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'not_owner') THEN CREATE ROLE not_owner LOGIN; END IF; END $$");
        await db.ExecuteAsync("GRANT SELECT ON ALL TABLES IN SCHEMA public TO not_owner");
        var asNotOwner = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = "not_owner" }.ConnectionString;
        var (refused, events) = await Runbooks.RunAsync(asNotOwner, "ALTER TABLE public.contacts ADD COLUMN pd_note text;",
            MigrationRunbook.Parse("""{ "rlsProbe": { "role": "no_such_role", "user": "u", "setUser": "SELECT 1", "sql": "SELECT 1" } }""", "pd.runbook.json"));
        Assert.Equal(RunbookOutcome.Refused, refused.Outcome);
        var checks = events.OfType<CheckCompleted>().Select(c => c.Check).ToDictionary(c => c.Name);
        Assert.Equal(CheckStatus.Fail, checks["privileges"].Status);
        Assert.Contains("not_owner does not own public.contacts", checks["privileges"].Detail);
        Assert.Equal(CheckStatus.Warn, checks["RLS probe role"].Status);
        Assert.Contains("no_such_role does not exist", checks["RLS probe role"].Detail);
        Assert.Equal(CheckStatus.Warn, checks["can see other sessions"].Status);
        Assert.Contains(refused.Reasons, r => r.StartsWith("pre-deployment check failed: privileges", StringComparison.Ordinal));

        // An application transaction holding contacts for longer than the lock timeout: warned about, then waited for.
        await using var app = await db.OpenAsync("batch-job");
        await using var tx = await app.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM public.contacts", app))
            await read.ExecuteScalarAsync();
        await Task.Delay(TimeSpan.FromMilliseconds(1200));
        var control = new Core.Execution.ExecutionControl();
        control.Pause();
        var (_, warned) = await Runbooks.RunAsync(db.ConnectionString, "ALTER TABLE public.contacts ADD COLUMN pd_note text;", MigrationRunbook.Empty, control,
            e => { if (e is ExecutionReported { Execution: Core.Execution.RunPaused }) control.Cancel(); });
        var longTx = Assert.Single(warned.OfType<CheckCompleted>(), c => c.Check.Name == "long transaction" && c.Check.Detail.Contains($"pid {app.ProcessID} ", StringComparison.Ordinal)).Check;
        Assert.Equal(CheckStatus.Warn, longTx.Status);
        Assert.Contains($"pid {app.ProcessID} (\"batch-job\"", longTx.Detail);
        Assert.Contains("the run will wait for it", longTx.Detail);
    }
}

/// <summary>A benchmark parameters query that fails: a reason and a verdict, not a crash.</summary>
public class FailingParametersTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_failing_parameters_query_stops_the_run_with_a_verdict_naming_it()
    {
        var runbook = MigrationRunbook.Parse("""
            { "parameters": "SELECT no_such_column FROM public.organizations LIMIT 1",
              "benchmarks": [ { "name": "search", "sql": "SELECT count(*) FROM public.contacts WHERE organization_id = $1" } ] }
            """, "fp.runbook.json");
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, "SELECT 1;", runbook);
        Assert.Equal(RunbookOutcome.Failed, result.Outcome);
        Assert.Contains(result.Reasons, r => r.Contains("a query on the target failed during phase 1", StringComparison.Ordinal) && r.Contains("no_such_column", StringComparison.Ordinal));
        Assert.Contains(events, e => e is PhaseFinished { Phase: RunbookPhase.Baseline, Ok: false });
        Assert.Single(events.OfType<VerdictReached>());
        Assert.DoesNotContain(events, e => e is PhaseStarted { Phase: RunbookPhase.Migration });
    }
}

/// <summary>A runbook validation that does not hold fails the verdict, naming it and its detail.</summary>
public class FailingValidationTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task A_validation_that_does_not_hold_fails_the_verdict_with_its_detail()
    {
        var runbook = MigrationRunbook.Parse("""
            { "validations": [
                { "name": "table exists", "sql": "SELECT to_regclass('public.fv_t') IS NOT NULL, 'public.fv_t'" },
                { "name": "has rows", "sql": "SELECT count(*) > 0, count(*) || ' rows' FROM public.fv_t" } ] }
            """, "fv.runbook.json");
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, "CREATE TABLE fv_t (id int);", runbook);
        Assert.Equal(RunbookOutcome.Failed, result.Outcome);
        Assert.Contains(events.OfType<CheckCompleted>(), c => c.Check is { Name: "table exists", Status: CheckStatus.Pass });
        Assert.Contains(events.OfType<CheckCompleted>(), c => c.Check is { Name: "has rows", Status: CheckStatus.Fail, Detail: "0 rows" });
        Assert.Contains("validation failed: has rows: 0 rows", result.Reasons);
    }
}

/// <summary>The server itself stops while a statement runs: a failure event, a failed phase and a verdict, never a crash.</summary>
public class ServerStoppedTests
{
    [LocalPostgresFact]
    public async Task Stopping_the_server_mid_statement_ends_the_run_with_a_failure_and_a_verdict()
    {
        var server = await Launching.LocalCluster.StartAsync(Launching.LocalBinaries.Find().Directory!, Launching.LocalCluster.DefaultRoot, Environment.ProcessId,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        var stopped = false;
        try
        {
            var cs = new Npgsql.NpgsqlConnectionStringBuilder(server.ConnectionString) { Pooling = false }.ConnectionString;
            var (result, events) = await Runbooks.RunAsync(cs, "CREATE TABLE ss_t (id int); SELECT pg_sleep(120);", MigrationRunbook.Empty, onEvent: e =>
            {
                // Once the long statement is running, the whole server goes (as pg_ctl stop -m fast does on a host shutdown).
                if (e is ExecutionReported { Execution: Core.Execution.StatementStarted { Statement.Number: 2 } } && !stopped)
                {
                    stopped = true;
                    _ = Task.Run(async () =>
                    {
                        await Task.Delay(300);
                        await server.DisposeAsync();
                    });
                }
            });

            Assert.True(stopped);
            Assert.Equal(RunbookOutcome.Failed, result.Outcome);
            var failed = Assert.Single(events.OfType<ExecutionReported>().Select(e => e.Execution).OfType<Core.Execution.StatementFailed>());
            Assert.Equal(2, failed.Statement.Number);
            Assert.Single(events.OfType<VerdictReached>());
            Assert.Contains(events, e => e is PhaseFinished { Phase: RunbookPhase.Migration, Ok: false });
            Assert.Contains(result.Reasons, r => r.Contains("the migration failed at line 1", StringComparison.Ordinal));
        }
        finally
        {
            if (!stopped)
                await server.DisposeAsync();
        }
    }
}

/// <summary>The replication-lag check against a real streaming replica whose replay is paused.</summary>
public class ReplicationLagTests
{
    [LocalPostgresFact]
    public async Task A_replica_lagging_past_the_limit_fails_the_check_and_one_in_step_passes_it()
    {
        var bin = Launching.LocalBinaries.Find().Directory!;
        await using var primary = await Launching.LocalCluster.StartAsync(bin, Launching.LocalCluster.DefaultRoot, Environment.ProcessId,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(primary.ConnectionString) { Pooling = false };
        await using var standby = await Standby.StartAsync(bin, cs.Host!, cs.Port);
        var standbyCs = new Npgsql.NpgsqlConnectionStringBuilder(cs.ConnectionString) { Port = standby.Port }.ConnectionString;
        await Poll.UntilAsync(async () => await ScalarAsync<long>(cs.ConnectionString, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1,
            "the standby to stream", TimeSpan.FromSeconds(60));
        var plan = Core.Planning.MigrationPlan.For("lag", "", Core.Scripts.SqlScript.Parse("SELECT 1;"));

        // In step (the checklist's 10 s: a loaded machine's idle replica is well inside it).
        var inStep = await CheckAsync(cs.ConnectionString, plan, TimeSpan.FromSeconds(10));
        Assert.Equal(CheckStatus.Pass, inStep.Status);
        Assert.Contains("over 1 replica(s) (limit 10 s)", inStep.Detail);

        // Replay paused on the standby while the primary writes: its replay lag grows past the limit.
        await ScalarAsync<object>(standbyCs, "SELECT pg_wal_replay_pause()");
        await Poll.UntilAsync(async () =>
        {
            await ScalarAsync<object>(cs.ConnectionString, "SELECT pg_current_xact_id()");
            return await ScalarAsync<double>(cs.ConnectionString, "SELECT coalesce(extract(epoch FROM max(replay_lag)), 0)::float8 FROM pg_stat_replication") > 1.5;
        }, "the replica's replay lag to pass 1.5 s", TimeSpan.FromSeconds(60));

        var behind = await CheckAsync(cs.ConnectionString, plan, TimeSpan.FromSeconds(1));
        Assert.Equal(CheckStatus.Fail, behind.Status);
        Assert.Matches(@"^\d+\.\d s over 1 replica\(s\) \(limit 1 s\)$", behind.Detail);
    }

    private static async Task<CheckResult> CheckAsync(string connectionString, Core.Planning.MigrationPlan plan, TimeSpan limit)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var checks = await Probes.PreDeploymentChecks.RunAsync(connection, plan, MigrationRunbook.Empty, TimeSpan.FromMilliseconds(200), CancellationToken.None,
            lagLimit: limit);
        return Assert.Single(checks, c => c.Name == "replication lag");
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>A streaming standby of the primary (pg_basebackup -R), in its own folder and port; stopped and removed on dispose.</summary>
    private sealed class Standby : IAsyncDisposable
    {
        private readonly string _bin;
        private readonly string _folder;

        private Standby(string bin, string folder, int port) => (_bin, _folder, Port) = (bin, folder, port);

        public int Port { get; }

        public static async Task<Standby> StartAsync(string bin, string host, int primaryPort)
        {
            var folder = Path.Combine(Path.GetTempPath(), $"chatops-standby-{Guid.NewGuid():N}");
            Directory.CreateDirectory(folder);
            var asRoot = Environment.UserName == "root";
            if (asRoot) await RunAsync("chown", ["postgres", folder]);
            var port = FreePort();
            var standby = new Standby(bin, folder, port);
            try
            {
                await standby.StartServerAsync(host, primaryPort);
            }
            catch
            {
                // Nothing to stop when it did not start; the folder goes, with what the log said in the exception above.
                Directory.Delete(folder, recursive: true);
                throw;
            }
            return standby;
        }

        private async Task StartServerAsync(string host, int primaryPort)
        {
            var (bin, folder, port, standby) = (_bin, _folder, Port, this);
            await standby.AsServerUserAsync(Path.Combine(bin, "pg_basebackup"), ["-h", host, "-p", primaryPort.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-D", Path.Combine(folder, "data"), "-R", "-X", "stream"]);
            await standby.AsServerUserAsync(Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(folder, "data"), "-l", Path.Combine(folder, "log"), "-w", "-t", "60",
                // A standby needs max_connections at least the primary's.
                "-o", $"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} -c fsync=off -c max_connections={Launching.LocalCluster.MaxConnections}", "start"]);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await AsServerUserAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_folder, "data"), "-m", "immediate", "stop"]);
            }
            finally
            {
                Directory.Delete(_folder, recursive: true);
            }
        }

        private Task AsServerUserAsync(string program, IReadOnlyList<string> arguments) =>
            Environment.UserName == "root" ? RunAsync("runuser", ["-u", "postgres", "--", program, .. arguments]) : RunAsync(program, arguments);

        private static async Task RunAsync(string program, IReadOnlyList<string> arguments)
        {
            var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in arguments) start.ArgumentList.Add(a);
            using var process = System.Diagnostics.Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"{Path.GetFileName(program)} exited {process.ExitCode}: {await error}");
        }

        private static int FreePort()
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
