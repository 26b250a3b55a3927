using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Probes;
using ChatOps.Postgres.Runbooks;
using ChatOps.Postgres.Workload;
using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>Runbooks for the verdict tests: the seed's benchmark queries that exist before and after any migration.</summary>
internal static class VerdictRunbooks
{
    public static MigrationRunbook BenchmarksOnly => Runbooks.Seed with
    {
        Benchmarks = Runbooks.Seed.Benchmarks.Where(b => !b.AfterOnly).ToList(),
        Validations = [],
        RlsProbe = null,
        IndexUsage = [],
        RowsAtBaseline = null,
        Thresholds = new Dictionary<string, ThresholdOverride>(),
    };

    public static IEnumerable<Measured> Rounds(IEnumerable<RunbookEvent> events) =>
        events.OfType<Measured>().Where(m => m.Name.StartsWith("benchmark round ", StringComparison.Ordinal));
}

/// <summary>A real regression: the migration drops the index the organisation queries use.</summary>
public class RealRegressionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Dropping_an_index_a_benchmark_query_uses_fires_the_degradation_trigger_within_its_three_rounds()
    {
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString,
            "DROP INDEX CONCURRENTLY public.contacts_organization_id_idx", VerdictRunbooks.BenchmarksOnly);

        Assert.False(result.Succeeded);
        var fired = Assert.Single(events.OfType<ThresholdReported>().Select(t => t.Threshold).OfType<ThresholdBreached>(),
            b => b.Rule.Metric == Metric.QueryDegradationPercent);
        Assert.Equal(3, fired.Readings.Count);
        Assert.All(VerdictRunbooks.Rounds(events), r => Assert.True(r.Value > 10, $"{r.Name}: {r.Value} % ({r.Detail})"));
        Assert.Contains(result.Reasons, r => r.StartsWith("rollback trigger fired: query degradation > 10 %", StringComparison.Ordinal));
        Assert.Contains(result.Reasons, r => r.StartsWith("success criterion not met: query degradation ≤ 3 %", StringComparison.Ordinal));
        // Each reading says why: the plan lost its index and reads the whole table.
        var why = events.OfType<Measured>().First(m => m.Name.StartsWith("round 1: ", StringComparison.Ordinal)).Detail;
        Assert.Contains("REGRESSED: plan changed", why);
        Assert.Contains("contacts_organization_id_idx became Seq Scan on contacts", why);
    }
}

/// <summary>Time that moves while plan and buffers stay the same is noise, not a regression.</summary>
// The CPU-bound test loads the whole server: it runs alone, so it neither slows nor is slowed by other classes.
[Collection(ClusterQuietCollection.Name)]
public class InjectedNoiseTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>
{
    [Fact]
    public async Task Real_measurements_with_injected_time_noise_and_unchanged_plans_count_as_no_degradation()
    {
        var runbook = VerdictRunbooks.BenchmarksOnly;
        var probes = await QueryProbes.OpenAsync(db.ConnectionString, "noise-test", CancellationToken.None);
        await using var _ = probes.Connection;
        var parameters = await probes.ParametersAsync(runbook, CancellationToken.None);
        var before = await probes.BenchmarksAsync(runbook, parameters, after: false, runs: 7, CancellationToken.None);
        var after = await probes.BenchmarksAsync(runbook, parameters, after: true, runs: 7, CancellationToken.None);

        // A busy CPU: every query's runs scaled to 4× its baseline median, the control query not (the worst case for a
        // time-only judge) — the plans and buffers are the ones measured.
        var noisy = after.Queries.Select(q =>
        {
            var scale = 4 * before.Queries.Single(b => b.Name == q.Name).MedianMs / q.MedianMs;
            return q with { TimesMs = q.TimesMs.Select(t => t * scale).ToList() };
        }).ToList();
        var reading = DegradationJudge.Judge(before.Queries, before.Control, noisy, after.Control);

        Assert.Equal(before.Queries.Select(q => q.Plan), after.Queries.Select(q => q.Plan));
        Assert.Equal(0, reading.Percent);
        Assert.All(reading.Queries, q =>
        {
            Assert.False(q.Regressed, q.Why);
            Assert.Contains("plan unchanged", q.Why);
        });
        // A time-only comparison of the same figures would have called it +300 %.
        Assert.Equal(4 * before.Queries.Sum(q => q.MedianMs), noisy.Sum(q => q.MedianMs), 6);
    }

    [Fact]
    public async Task A_harmless_migration_validated_while_the_server_is_cpu_bound_fires_no_trigger_and_succeeds()
    {
        using var stopBurning = new CancellationTokenSource();
        var burners = new List<Task>();
        // Two sessions burn the server's CPU from the moment validation starts (after the baseline was taken).
        void OnEvent(RunbookEvent e)
        {
            if (e is PhaseStarted { Phase: RunbookPhase.Validation })
                for (var i = 0; i < 2; i++)
                    burners.Add(BurnAsync(db.ConnectionString, stopBurning.Token));
        }

        RunbookResult result;
        IReadOnlyList<RunbookEvent> events;
        try
        {
            (result, events) = await Runbooks.RunAsync(db.ConnectionString,
                "COMMENT ON TABLE public.contacts IS 'contacts of the demo application'", VerdictRunbooks.BenchmarksOnly, onEvent: OnEvent);
        }
        finally
        {
            await stopBurning.CancelAsync();
            await Task.WhenAll(burners);
        }

        Assert.Equal(2, burners.Count);
        Assert.True(result.Succeeded, string.Join("\n", result.Reasons));
        Assert.DoesNotContain(events.OfType<ThresholdReported>(), t => t.Threshold is ThresholdBreached);
        Assert.Equal(3, VerdictRunbooks.Rounds(events).Count());
    }

    private static async Task BurnAsync(string connectionString, CancellationToken stop)
    {
        await using var connection = new NpgsqlConnection(ConnectionStrings.WithApplicationName(connectionString, "cpu-burner"));
        await connection.OpenAsync(CancellationToken.None);
        // generate_series in the select list streams (no tuplestore, no temp files); statement_timeout ends it even if nobody cancels.
        await using (var bound = new NpgsqlCommand("SET statement_timeout = '120s'", connection))
            await bound.ExecuteNonQueryAsync(CancellationToken.None);
        await using var burn = new NpgsqlCommand("SELECT count(*) FROM (SELECT generate_series(1, 2000000000)) s", connection) { CommandTimeout = 0 };
        try
        {
            await burn.ExecuteScalarAsync(stop);
        }
        catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or PostgresException)
        {
        }
    }
}

/// <summary>"No data loss" under a live application: a snapshot decides what existed at baseline, never a clock.</summary>
public class IntegrityTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task An_insert_straddling_the_baseline_and_an_application_delete_pass_as_deleted_by_the_application_zero_lost()
    {
        var runbook = VerdictRunbooks.BenchmarksOnly with { Table = "public.contacts", RowsAtBaseline = "SELECT id FROM public.contacts" };
        // The application's insert: its transaction (and so its created_at = now()) starts before the baseline …
        await using var app = await db.OpenAsync("crm-web");
        await using var insert = await app.BeginTransactionAsync();
        await Sql.ScalarAsync(app, "INSERT INTO public.contacts (organization_id, name, email) SELECT id, 'Straddler', 's@example.test' FROM public.organizations LIMIT 1");
        var victim = await db.ScalarAsync<Guid>("SELECT id FROM public.contacts ORDER BY created_at LIMIT 1");

        var control = new ExecutionControl();
        control.Pause();   // the run stops before the migration's first statement, after the baseline
        var atMigration = new TaskCompletionSource();
        var running = Runbooks.RunAsync(db.ConnectionString, "COMMENT ON TABLE public.contacts IS 'integrity test'", runbook, control,
            e => { if (e is ExecutionReported { Execution: RunPaused }) atMigration.TrySetResult(); });
        await atMigration.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var afterBaseline = await db.ScalarAsync<DateTime>("SELECT now()");

        // … and commits after it; meanwhile the application deletes a contact that existed at baseline.
        await insert.CommitAsync();
        await db.ExecuteAsync($"DELETE FROM public.contacts WHERE id = '{victim}'");
        control.Resume();
        var (result, events) = await running;

        Assert.True(result.Succeeded, string.Join("\n", result.Reasons));
        var check = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "no data loss").Check;
        Assert.Equal(CheckStatus.Pass, check.Status);
        Assert.Contains($"{TestPostgres.TemplateContacts - 1:N0} of the {TestPostgres.TemplateContacts:N0} rows that existed at baseline remain", check.Detail);
        Assert.Contains("1 deleted by the application, 0 lost", check.Detail);
        // The straddling row's created_at lies before the baseline: a count of rows "created before the baseline" would have
        // found 50,001 of 50,000 — and flagged the application's delete as a loss.
        Assert.True(await db.ScalarAsync<DateTime>("SELECT created_at FROM public.contacts WHERE name = 'Straddler'") < afterBaseline);
    }

    [Fact]
    public async Task Rows_gone_when_the_migration_itself_deletes_are_reported_as_possibly_lost()
    {
        var runbook = VerdictRunbooks.BenchmarksOnly with { Table = "public.contacts", RowsAtBaseline = "SELECT id FROM public.contacts" };
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString,
            "DELETE FROM public.contacts WHERE id IN (SELECT id FROM public.contacts ORDER BY id LIMIT 3)", runbook);

        Assert.False(result.Succeeded);
        var check = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "no data loss").Check;
        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("3 gone, and the migration itself can delete from public.contacts", check.Detail);
        Assert.Contains(result.Reasons, r => r.StartsWith("data changed: 3 of", StringComparison.Ordinal));
    }
}

/// <summary>The harm the old verdict missed: a NOT VALID check that makes the application's writes fail.</summary>
public class BrokenWritesTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_not_valid_check_that_makes_application_updates_fail_fails_the_verdict()
    {
        var control = new ExecutionControl();
        var afterCheck = new TaskCompletionSource();
        void OnEvent(RunbookEvent e)
        {
            // Hold the run after the constraint is in place, until the application has hit it.
            if (e is ExecutionReported { Execution: StatementFinished { Statement.Number: 1 } })
                control.Pause();
            if (e is ExecutionReported { Execution: RunPaused })
                afterCheck.TrySetResult();
        }

        WorkloadSummary workload;
        RunbookResult result;
        IReadOnlyList<RunbookEvent> events;
        await using (var app = new ApplicationWorkload(db.ConnectionString))
        {
            app.Start();
            var running = Runbooks.RunAsync(db.ConnectionString, """
                ALTER TABLE public.contacts ADD CONSTRAINT contacts_name_is_short CHECK (length(name) < 8) NOT VALID;
                SELECT 'the end of the migration';
                """, VerdictRunbooks.BenchmarksOnly, control, OnEvent);
            await afterCheck.Task.WaitAsync(TimeSpan.FromSeconds(60));
            // Wait until the server counts the application's failed writes (statistics reach pg_stat_database within a second or so).
            var before = await db.ScalarAsync<long>("SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()");
            await Sql.WaitUntilAsync(db, $"SELECT xact_rollback >= {before + 10} FROM pg_stat_database WHERE datname = current_database()",
                "the application's failed updates to be counted");
            control.Resume();
            (result, events) = await running;
            workload = app.Summary;
        }

        Assert.True(workload.Failures > 0);
        Assert.Contains("contacts_name_is_short", workload.LastError);
        Assert.False(result.Succeeded);
        Assert.Contains(result.Reasons, r => r.Contains("application writes fail") && r.Contains("NOT VALID constraint contacts_name_is_short"));
        Assert.Contains(result.Reasons, r => r.StartsWith("the application's failure rate rose during the migration", StringComparison.Ordinal));
        var check = Assert.Single(events.OfType<CheckCompleted>(), c => c.Check.Name == "constraint contacts_name_is_short").Check;
        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("every application UPDATE of them fails", check.Detail);
    }
}

/// <summary>Edge cases: nothing to run is refused; a migration without a runbook file is judged on what can be measured.</summary>
public class RunbookEdgeTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task An_empty_or_comment_only_migration_is_refused_without_touching_the_target()
    {
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, "-- nothing yet\n/* still nothing */\n", Runbooks.Seed);

        Assert.False(result.Succeeded);
        Assert.Contains("the migration has no statements", Assert.Single(result.Reasons));
        Assert.DoesNotContain(events.OfType<PhaseStarted>(), p => p.Phase != RunbookPhase.Verdict);
        Assert.False(await db.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'chatops:%')"));
    }

    [Fact]
    public async Task Without_a_runbook_file_the_defaults_apply_and_what_cannot_be_measured_is_not_measured_not_failed()
    {
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, "CREATE INDEX CONCURRENTLY contacts_email_idx ON public.contacts (email)", MigrationRunbook.Empty);

        Assert.True(result.Succeeded, string.Join("\n", result.Reasons));
        var verdict = Assert.Single(events.OfType<VerdictReached>());
        Assert.Equal(5, verdict.Criteria.Count);
        var notMeasured = verdict.Criteria.Where(c => c.NotMeasured).Select(c => c.Criterion.Name).Order().ToList();
        Assert.Equal(["RLS overhead", "index usage", "query degradation"], notMeasured);
        Assert.All(verdict.Criteria.Where(c => c.NotMeasured), c => Assert.StartsWith("not measured: the runbook has no", c.Detail));
        // What can always be measured was: the lock hold and the blocked sessions, from at least the statement's start and end.
        var blocked = verdict.Criteria.Single(c => c.Criterion.Name == "peak blocked application sessions");
        Assert.Equal(0, blocked.Measured);
        var samples = int.Parse(System.Text.RegularExpressions.Regex.Match(blocked.Detail, @"over (\d+) sample").Groups[1].Value);
        Assert.True(samples >= 2, blocked.Detail);
    }
}
