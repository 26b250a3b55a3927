using System.Collections.Concurrent;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Probes;
using ChatOps.Postgres.Runbooks;
using ChatOps.Postgres.Workload;
using ChatOps.Testing;

namespace ChatOps.Postgres.Tests;

internal static class Runbooks
{
    public static MigrationRunbook Seed => MigrationRunbook.Parse(File.ReadAllText(SeedMigration.RunbookPath), SeedMigration.RunbookPath);

    public static async Task<(RunbookResult Result, IReadOnlyList<RunbookEvent> Events)> RunAsync(string connectionString, string sql, MigrationRunbook runbook,
        ExecutionControl? control = null, Action<RunbookEvent>? onEvent = null, string? migration = null, bool force = false, bool restart = false,
        ExecutionOptions? execution = null, RunbookCheckpoint? resumeFrom = null, CancellationToken cancellationToken = default)
    {
        // Each call its own migration unless a test names one: the target's history would otherwise call a second run "already applied".
        var runId = $"rb-{Guid.NewGuid():N}"[..11];
        var events = new ConcurrentQueue<RunbookEvent>();
        var runner = new RunbookRunner(execution ?? new ExecutionOptions(), new MonitoringOptions { SampleInterval = TimeSpan.FromMilliseconds(250) }, TimeProvider.System)
        {
            BenchmarkRuns = 5,
        };
        var result = await runner.RunAsync(new RunbookRequest(connectionString, migration ?? $"test-{runId}", Sha256Of(sql), SqlScript.Parse(sql), runbook,
            runId, e =>
            {
                events.Enqueue(e);
                onEvent?.Invoke(e);
            }, control, "tests", force, restart, resumeFrom), cancellationToken);
        return (result, events.ToArray());
    }

    public static string Sha256Of(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}

/// <summary>The seed runbook end to end on 50,000 contacts while an application works on them, then its rollback.</summary>
public class SeedRunbookTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Every_phase_runs_every_measurement_is_present_the_verdict_is_success_and_the_rollback_verifies()
    {
        RunbookResult result;
        IReadOnlyList<RunbookEvent> events;
        WorkloadSummary workload;
        await using (var app = new ApplicationWorkload(db.ConnectionString))
        {
            app.Start();
            (result, events) = await Runbooks.RunAsync(db.ConnectionString, SeedMigration.Sql, Runbooks.Seed, migration: SeedMigration.Id);
            workload = app.Summary;
        }

        Assert.True(result.Succeeded, string.Join("\n", result.Reasons));
        Assert.Equal(Enum.GetValues<RunbookPhase>(), events.OfType<PhaseStarted>().Select(p => p.Phase));
        Assert.All(events.OfType<PhaseFinished>(), p => Assert.True(p.Ok, $"{p.Phase}: {p.Summary}"));
        var measured = events.OfType<Measured>().Select(m => m.Name).ToHashSet();
        foreach (var name in new[] { "baseline: organization search", "baseline: point read", "rows at baseline", "benchmark round 3",
                     "after: analytics feed", "RLS overhead probe 3/3", "index usage", "peak blocked application sessions" })
            Assert.Contains(name, measured);
        Assert.Contains(events.OfType<CheckCompleted>(), c => c.Check is { Name: "no data loss", Status: CheckStatus.Pass });
        Assert.Contains(events.OfType<CheckCompleted>(), c => c.Check is { Status: CheckStatus.Manual, Role: SignOffRole.ProductOwner });
        Assert.True(events.OfType<Sampled>().Count(s => s.Reading is MetricSample) >= 2);
        Assert.Equal(22, events.OfType<ExecutionReported>().Count(e => e.Execution is StatementFinished));
        var verdict = Assert.Single(events.OfType<VerdictReached>());
        Assert.Equal(5, verdict.Criteria.Count);
        Assert.All(verdict.Criteria, c => Assert.True(c.Passed, $"{c.Criterion.Describe()}: {c.Measured} ({c.Detail})"));
        Assert.DoesNotContain(events.OfType<ThresholdReported>(), t => t.Threshold is ThresholdBreached);
        Assert.True(workload.Transactions > 0);
        Assert.Equal(0, workload.Failures);

        var rollback = await new RollbackRunner(new ExecutionOptions(), TimeProvider.System)
            .RunAsync(new RollbackRequest(db.ConnectionString, SeedMigration.Id, "rollback-sha", SqlScript.Parse(SeedMigration.Rollback), "rb-rollback", _ => { }), CancellationToken.None);
        Assert.Null(rollback.NothingToDo);
        Assert.True(rollback.Succeeded, string.Join("; ", rollback.Checks.Where(c => !c.Holds).Select(c => c.What)));
        Assert.Contains(rollback.Checks, c => c.What == "policy \"Analytics access optimized\" on public.contacts is absent");
        Assert.Contains(rollback.Checks, c => c.What == "index public.idx_contacts_analytics_date is absent");
        Assert.Contains(rollback.Checks, c => c.What == "function public.user_has_contact_access_optimized (1 argument(s)) is absent");
        Assert.Equal("YES YES", await db.ScalarAsync<string>(
            "SELECT string_agg(is_nullable, ' ' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'contacts' AND column_name IN ('analytics_enabled', 'last_analytics_update')"));
    }
}

public class BrokenMigrationRunbookTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task An_index_that_cannot_be_built_gives_a_failed_verdict_that_names_why()
    {
        await db.ExecuteAsync("INSERT INTO public.contacts (organization_id, name, email) SELECT organization_id, 'Twin', email FROM public.contacts LIMIT 1");
        const string broken = """
            ALTER TABLE public.contacts ADD COLUMN IF NOT EXISTS analytics_enabled boolean NOT NULL DEFAULT false;
            CREATE UNIQUE INDEX CONCURRENTLY idx_contacts_email_unique ON public.contacts (email);
            """;
        var (result, events) = await Runbooks.RunAsync(db.ConnectionString, broken, MigrationRunbook.Empty);

        Assert.False(result.Succeeded);
        var reason = Assert.Single(result.Reasons);
        Assert.Contains("the migration failed at line 2 (23505)", reason);
        Assert.Contains("idx_contacts_email_unique", reason);
        var verdict = Assert.Single(events.OfType<VerdictReached>());
        Assert.False(verdict.Succeeded);
        Assert.DoesNotContain(events.OfType<PhaseStarted>(), p => p.Phase is RunbookPhase.IndexBuilds or RunbookPhase.Validation);
        Assert.False(events.OfType<PhaseFinished>().Single(p => p.Phase == RunbookPhase.Migration).Ok);
    }
}

/// <summary>The probes give plausible numbers on the migrated seed; the seed's policy costs under 2 ms on 50,000 rows.</summary>
public class ProbeTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>
{
    [Fact]
    public async Task Benchmarks_rls_overhead_and_index_usage_are_plausible()
    {
        var runbook = Runbooks.Seed;
        var probes = await QueryProbes.OpenAsync(db.ConnectionString, "probe-test", CancellationToken.None);
        await using var _ = probes.Connection;
        var parameters = await probes.ParametersAsync(runbook, CancellationToken.None);

        var before = await probes.BenchmarksAsync(runbook, parameters, after: false, runs: 5, CancellationToken.None);
        var after = await probes.BenchmarksAsync(runbook, parameters, after: true, runs: 5, CancellationToken.None);
        Assert.Equal(runbook.Benchmarks.Count(b => !b.AfterOnly), before.Queries.Count);
        Assert.Equal(runbook.Benchmarks.Count, after.Queries.Count);
        Assert.All(after.Queries, t => Assert.Equal(5, t.TimesMs.Count));
        Assert.All(after.Queries, t => Assert.InRange(t.MedianMs, 0.0005, 1000));
        Assert.Equal(5, after.Control.TimesMs.Count);
        // Work is measured, not only time: every query reads buffers and its plan names what it scans.
        Assert.All(after.Queries, t => Assert.True(t.Buffers > 0, $"{t.Name}: no buffers"));
        Assert.Contains(after.Queries.Single(q => q.Name == "point read").AccessPaths, p => p.Contains("contacts_pkey"));
        Assert.Equal(0, after.Control.Buffers);

        var rls = await probes.RlsOverheadAsync(runbook.RlsProbe!, parameters, runs: 7, CancellationToken.None);
        Assert.InRange(rls.AsRole.MedianMs, 0.0001, 1000);
        Assert.InRange(rls.AsOwner.MedianMs, 0.0001, 1000);
        Assert.True(rls.OverheadMs(after.Control) < 2, $"RLS overhead {rls.OverheadMs(after.Control):0.000} ms");

        var usage = await probes.IndexUsageAsync(runbook.IndexUsage, parameters, CancellationToken.None);
        Assert.Equal(100, usage.Percent);

        // And the probe does tell a query that cannot use an index.
        var seqScan = await probes.IndexUsageAsync(["SELECT count(*) FROM public.contacts WHERE name LIKE '%7'"], parameters, CancellationToken.None);
        Assert.Equal(0, seqScan.Percent);
    }
}
