using System.Text.Json;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary><c>chatops run</c> and <c>chatops rollback</c> against a real target, as a user runs them.</summary>
public class RunAndRollbackTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static readonly Dictionary<string, string> FastSampling = new() { ["ChatOps__Monitoring__SampleInterval"] = "00:00:00.500" };

    [Fact]
    public async Task Run_prints_a_timeline_and_succeeds_then_rollback_verifies_and_run_json_streams_events()
    {
        var run = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", db.ConnectionString], FastSampling);
        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains("── phase 2 · execute migration ──", run.Output);
        Assert.Contains("🟢 VERDICT: SUCCESS", run.Output);
        Assert.DoesNotContain("Password", run.Output);

        var rollback = await ChatOpsProcess.RunAsync(["rollback", SeedMigration.Id, "--target", db.ConnectionString]);
        Assert.True(rollback.ExitCode == 0, rollback.Output + rollback.Error);
        Assert.Contains("✅ policy \"Analytics access optimized\" on public.contacts is absent", rollback.Output);
        Assert.Matches(@"⏪ ROLLED BACK in [\d.]+ (ms|s) \(\d+ effects verified\)", rollback.Output);
        Assert.Contains("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contacts_analytics_date", rollback.Output);

        // Again, after the rollback, as JSON lines: the migration converges again.
        var json = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id, "--target", db.ConnectionString, "--json"], FastSampling);
        Assert.True(json.ExitCode == 0, json.Output + json.Error);
        var lines = json.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).ToList();
        var types = lines.Select(l => l.RootElement.GetProperty("type").GetString()).ToList();
        Assert.Contains("PhaseStarted", types);
        Assert.Contains("StatementFinished", types);
        Assert.Contains("Sampled", types);
        Assert.Equal("VerdictReached", types[^2]);
        Assert.True(lines[types.LastIndexOf("VerdictReached")].RootElement.GetProperty("event").GetProperty("succeeded").GetBoolean());
    }

    [Fact]
    public async Task Run_without_a_target_says_how_to_give_one()
    {
        var result = await ChatOpsProcess.RunAsync(["run", SeedMigration.Id]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--target", result.Error);
        Assert.Contains("ConnectionStrings__Target", result.Error);
    }
}
