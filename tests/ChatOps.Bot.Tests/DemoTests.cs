using System.Globalization;
using System.Text.RegularExpressions;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>The demo verb end to end, as a child process, against the test server (given with --connection).</summary>
public class DemoTests(EmptyPostgresDatabase db) : IClassFixture<EmptyPostgresDatabase>
{
    private const string Migration = SeedMigration.Id;

    [Fact]
    public async Task The_demo_tells_the_whole_story_in_the_local_channel_and_exits_0_in_under_3_minutes()
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--rows", "5000", "--connection", db.ServerConnectionString]);
        var transcript = result.Output;

        Assert.True(result.ExitCode == 0, transcript + result.Error);
        Assert.Contains("5,000 contacts", transcript);
        AssertInOrder(transcript,
            // the cast and the compressed clock, said as such
            "🎬 In #local: dana (Database Administrator), sam (Senior Backend Engineer), olga (DevOps/SRE Lead), pete (Product Owner); rita",
            "🎬 A compressed clock: status every 10",
            // the request and its card
            $"rita: /migrate start {Migration}",
            $"🗄️ D-1 · {Migration}", "⏳ AWAITING SIGN-OFF (0/4)",
            // the requester holds a role and may not sign
            "rita: /migrate approve D-1", "rita requested this deployment and may not sign it",
            // four sign-offs, one per role
            "✅ dana reacted on D-1", "✅ Database Administrator — dana",
            "✅ sam reacted on D-1", "✅ olga reacted on D-1", "✅ pete reacted on D-1",
            "🟢 APPROVED FOR DEPLOYMENT",
            // the runbook in the thread, phase by phase, statement by statement
            "── pre-deployment checks ──", "── phase 1 · setup & baseline ──", "── phase 2 · execute migration ──",
            "✓ #1 line 12 in", "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_analyt", "NOTICE: Migration phase 4/4 complete",
            "── phase 3 · index builds ──", "── phase 4 · validation ──", "── verdict ──", "🟢 VERDICT: SUCCESS",
            // post-deployment monitoring with status on the compressed clock, one asked for, then the report
            "Post-deployment monitoring until", "👀 POST-DEPLOYMENT MONITORING",
            "rita: /migrate status D-1",
            $"📈 D-1 · performance report · {Migration}", "lessons learned",
            "🎬 The story took");
        Assert.Contains("🟢 COMPLETED", transcript);
        // A status asked for while running, and the ones posted every 10 s.
        var statuses = Regex.Matches(transcript, $"📊 D-1 · status · {Migration}").Count;
        Assert.True(statuses >= 4, $"{statuses} status posts\n{transcript}");
        Assert.Matches(@"Application during the run: [1-9][\d,]* transactions, 0 failed", transcript);
        AssertThePerformanceReport(transcript);
        Assert.True(Took(transcript) < TimeSpan.FromMinutes(3), $"the demo took {Took(transcript)}");
        await AssertScratchDatabasesDroppedAsync(transcript);
        Assert.DoesNotContain("Password", transcript + result.Error, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A measured duration as the bot writes one: 41 ms, 3.2 s, 1m05s.</summary>
    private const string Duration = @"(?:\d+ ms|\d+\.\d s|\d+m\d\ds)";

    /// <summary>The checklist's performance report, part by part: each with what was measured, and the limit where the checklist sets one.</summary>
    private static void AssertThePerformanceReport(string transcript)
    {
        var at = transcript.IndexOf($"📈 D-1 · performance report · {Migration}", StringComparison.Ordinal);
        Assert.True(at >= 0, transcript);
        var report = transcript[at..transcript.IndexOf("lessons learned", at, StringComparison.Ordinal)];
        Assert.Matches(@"✅ COMPLETED · 1m after deployment · (success criteria met ✅|❌ over the checklist's limits: )", report);
        Assert.Matches($@"phase durations: pre-deployment {Duration} · 1 baseline {Duration} · 2 migration {Duration} · 3 index builds {Duration} · " +
                       $@"4 validation {Duration} · verdict {Duration} · total {Duration}", report);
        // The migration's ALTER TABLE takes ACCESS EXCLUSIVE: its hold, by statement, against the checklist's 500 ms.
        Assert.Matches($@"ACCESS EXCLUSIVE holds: longest {Duration} [✅❌] \(limit ≤ 500 ms\): #\d+ line \d+ {Duration}", report);
        Assert.Matches(@"blocked app sessions: peak \d+.* during the run · peak \d+.* during monitoring [✅❌] \(limit ≤ 2\)", report);
        Assert.Matches(@"longest app lock wait: \d+ ms during the run · \d+ ms during monitoring", report);
        // Each benchmark query with a baseline, before → after, and the judge's limit.
        foreach (var query in new[] { "organization search", "point read", "recent contacts" })
            Assert.Matches($@"queries vs baseline: .*{query} [\d.]+ → [\d.]+ ms \([+−]?[\d.]+ %", report);
        Assert.Matches(@"queries vs baseline: .* [✅❌] \(limit ≤ 3 %\)", report);
        Assert.Matches(@"RLS overhead: [\d.]+ ms \(was [\d.]+ ms\) [✅❌] \(limit ≤ 2 ms\)", report);
        // The three indexes the migration builds, with how often they were scanned by the end of monitoring.
        Assert.Matches(@"index usage: idx_contacts_analytics_date \d+ scans?[^·\n]* · idx_contacts_analytics_optimized \d+ scans?[^·\n]* · " +
                       @"idx_contacts_org_analytics_optimized \d+ scans?", report);
        Assert.Matches(@"monitoring: 1m · \d+ samples, 0 failed", report);
        Assert.Contains("breaches: none", report);
    }

    [Fact]
    public async Task With_a_breach_the_lock_wait_trigger_fires_during_the_run_the_bot_alerts_and_asks_and_the_DBA_rolls_back()
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--breach", "--rows", "5000", "--connection", db.ServerConnectionString]);
        var transcript = result.Output;

        Assert.True(result.ExitCode == 0, transcript + result.Error);
        AssertInOrder(transcript,
            // the compressed trigger window, said as such
            "🎬 For the breach, this demo's copy of", "thresholds.app-lock-wait.for to 10", "“application lock wait > 1000 ms for 10",
            "where the migration's own runbook says “application lock wait > 1000 ms for 1m", "— the same rule on a compressed clock",
            $"rita: /migrate start {Migration}", "⏳ AWAITING SIGN-OFF (0/4)",
            "✅ dana reacted on D-1", "✅ sam reacted on D-1", "✅ olga reacted on D-1", "✅ pete reacted on D-1", "🟢 APPROVED FOR DEPLOYMENT",
            "── phase 2 · execute migration ──",
            "🎬 billing-worker (another application) takes ACCESS EXCLUSIVE on public.contacts in a transaction and keeps it — the deployment is in phase 2 · execute migration",
            // the alert in the channel, calling on the DBA and the DevOps/SRE Lead; it is the prompt (the bot's own ⏪ on it to click)
            "🚨 D-1: rollback trigger application lock wait > 1000 ms for 10", "@Database Administrator (dana)", "@DevOps/SRE Lead (olga)",
            // the status asked for then: still phase 2, the trigger breached
            "⏪ bot reacted on L", "rita: /migrate status D-1", "❌ breached: app-lock-wait", "phase: phase 2 · execute migration · step",
            // the DBA answers; the blocker goes; the rollback runs and is verified
            "⏪ dana reacted on D-1", "⏪ ROLLING BACK", "🎬 billing-worker commits",
            "⏪ D-1 rollback, step by step", "is absent", "⏪ D-1: rolled back and verified",
            "🎬 The story took");
        Assert.Contains("⏪ ROLLED BACK", transcript);
        Assert.DoesNotContain("COMPLETED", transcript);
        // The alert came while the deployment was in phase 2: no later phase started before it (nor after: the rollback ended the run).
        var phase2 = transcript.IndexOf("── phase 2 · execute migration ──", StringComparison.Ordinal);
        var alert = transcript.IndexOf("🚨 D-1: rollback trigger", StringComparison.Ordinal);
        Assert.True(phase2 >= 0 && alert > phase2, transcript);
        Assert.DoesNotContain("── phase 3", transcript);
        Assert.DoesNotContain("✓ phase 2 · execute migration in", transcript[..alert]);
        Assert.True(Took(transcript) < TimeSpan.FromMinutes(3), $"the demo took {Took(transcript)}");
        await AssertScratchDatabasesDroppedAsync(transcript);
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
    public async Task A_breach_is_refused_for_a_migration_without_a_rollback_before_anything_starts()
    {
        var migrations = Directory.CreateTempSubdirectory("chatops-demo-test-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(migrations.FullName, "20260101_forward_only.sql"), "ALTER TABLE public.contacts ADD COLUMN note text;\n");
            var result = await ChatOpsProcess.RunAsync(["demo", "--breach", "--migration", "20260101_forward_only", "--connection", db.ServerConnectionString],
                new Dictionary<string, string> { ["ChatOps__Migrations__Directory"] = migrations.FullName });
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("--breach ends in a rollback, and 20260101_forward_only has no 20260101_forward_only.rollback.sql", result.Error);
            Assert.DoesNotContain("PostgreSQL:", result.Output);
        }
        finally
        {
            migrations.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_demo_that_does_not_reach_its_end_exits_1_with_one_line_saying_where_it_stopped()
    {
        var migrations = Directory.CreateTempSubdirectory("chatops-demo-test-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(migrations.FullName, "20260101_fails.sql"), "ALTER TABLE public.contacts ADD COLUMN note text;\nSELECT 1/0;\n");
            await File.WriteAllTextAsync(Path.Combine(migrations.FullName, "20260101_fails.rollback.sql"), "ALTER TABLE public.contacts DROP COLUMN IF EXISTS note;\n");
            var result = await ChatOpsProcess.RunAsync(["demo", "--rows", "1000", "--migration", "20260101_fails", "--connection", db.ServerConnectionString],
                new Dictionary<string, string> { ["ChatOps__Migrations__Directory"] = migrations.FullName });
            Assert.True(result.ExitCode == 1, result.Output + result.Error);
            Assert.Contains("🔴 VERDICT: FAILED", result.Output);
            var reason = Assert.Single(result.Error.Split('\n'), l => l.StartsWith("The demo did not reach its end:", StringComparison.Ordinal));
            Assert.Contains("D-1 ended Failed", reason);
            Assert.Contains("division by zero", reason);
            await AssertScratchDatabasesDroppedAsync(result.Output);
        }
        finally
        {
            migrations.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_unreachable_server_is_named()
    {
        var result = await ChatOpsProcess.RunAsync(["demo", "--rows", "10", "--connection", "Host=127.0.0.1;Port=1;Username=nobody;Password=hunter2;Timeout=2"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("127.0.0.1:1", result.Output + result.Error);
        Assert.DoesNotContain("hunter2", result.Output + result.Error);
    }

    /// <summary>Each part appears, after the one before it: the story is told in its order.</summary>
    private static void AssertInOrder(string transcript, params string[] parts)
    {
        var at = 0;
        foreach (var part in parts)
        {
            var found = transcript.IndexOf(part, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"“{part}” is not in the transcript after position {at}{(transcript.Contains(part, StringComparison.Ordinal) ? " (it is earlier)" : "")}:\n{transcript}");
            at = found + part.Length;
        }
    }

    private static TimeSpan Took(string transcript) =>
        TimeSpan.FromSeconds(double.Parse(Regex.Match(transcript, @"The demo took ([\d.]+) s\.").Groups[1].Value, CultureInfo.InvariantCulture));

    /// <summary>Its own scratch databases, by name (the server is not the demo's alone), are gone.</summary>
    private async Task AssertScratchDatabasesDroppedAsync(string transcript)
    {
        var target = Assert.Single(Regex.Matches(transcript, @"database (chatops_demo_\w+):")).Groups[1].Value;
        var state = Assert.Single(Regex.Matches(transcript, @"the bot's state in (chatops_demo_\w+)")).Groups[1].Value;
        Assert.Equal(target + "_state", state);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_database WHERE datname = $1 OR datname = $2", target, state));
    }
}
