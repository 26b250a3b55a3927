using System.Text.RegularExpressions;
using ChatOps.Postgres;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>The demo verb end to end, against the test server (given with --connection).</summary>
public class DemoTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    [Fact]
    public async Task The_demo_runs_the_whole_runbook_under_an_application_workload_then_drops_its_scratch_database()
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--rows", "5000", "--connection", db.ServerConnectionString]);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("5,000 contacts", result.Output);
        Assert.Contains("Migration phase 4/4 complete", result.Output);
        Assert.Contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_analytics_date", result.Output);
        foreach (var phase in new[] { "pre-deployment checks", "phase 1 · setup & baseline", "phase 2 · execute migration", "phase 3 · index builds", "phase 4 · validation", "verdict" })
            Assert.Contains($"── {phase} ──", result.Output);
        Assert.Contains("🟢 VERDICT: SUCCESS", result.Output);
        Assert.Matches(@"Application during the run: [1-9][\d,]* transactions, 0 failed", result.Output);
        // Its own scratch database, by name: the server is not the demo's alone.
        var scratch = Assert.Single(Regex.Matches(result.Output, @"database (chatops_demo_\w+):")).Groups[1].Value;
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_database WHERE datname = $1", scratch));
        Assert.DoesNotContain("Password", result.Output + result.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("no_such_migration", "available: " + SeedMigration.Id)]
    [InlineData("../../etc/passwd", "path separators")]
    public async Task A_bad_migration_name_is_refused_before_anything_starts(string name, string message)
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--migration", name, "--connection", db.ServerConnectionString]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Error);
        Assert.DoesNotContain("PostgreSQL:", result.Output);
    }

    [Fact]
    public async Task An_unreachable_server_is_named()
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--rows", "10", "--connection", "Host=127.0.0.1;Port=1;Username=nobody;Password=hunter2;Timeout=2"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("127.0.0.1:1", result.Output + result.Error);
        Assert.DoesNotContain("hunter2", result.Output + result.Error);
    }
}
