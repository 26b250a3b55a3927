using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class PerformanceReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.Zero);
    private static readonly ThresholdRule Blocked = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "blocked-sessions");
    private static readonly ThresholdRule LockWait = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "app-lock-wait");

    private static PerformanceReport Report() => new(
        new DeploymentId(3), "add_contact_rls", DeploymentState.Completed,
        [
            new(RunbookPhase.PreDeployment, TimeSpan.FromSeconds(41)),
            new(RunbookPhase.Baseline, TimeSpan.FromSeconds(12)),
            new(RunbookPhase.Migration, TimeSpan.FromSeconds(3.2)),
            new(RunbookPhase.IndexBuilds, TimeSpan.FromSeconds(291)),
            new(RunbookPhase.Validation, TimeSpan.FromSeconds(20)),
        ],
        [
            new("ALTER TABLE contacts ENABLE ROW LEVEL SECURITY", TimeSpan.FromMilliseconds(11)),
            new("CREATE POLICY contacts_org ON contacts", TimeSpan.FromMilliseconds(4)),
        ],
        new ApplicationPeaks(60, 0, 1, 3, TimeSpan.FromMilliseconds(40), 44, TimeSpan.FromMilliseconds(600)),
        new ApplicationPeaks(17280, 2, 0, 0, TimeSpan.FromMilliseconds(12), 51, null),
        [new("org search", 12.4, 10.7, false), new("point read", 0.8, 0.804, false)],
        RlsOverheadBeforeMs: 20.6,
        RlsOverheadAfterMs: 1.1,
        [new("idx_contacts_org", 1204), new("idx_contacts_recent", 0)],
        [],
        TimeSpan.FromHours(24));

    private static string Field(ChatMessage message, string label) => Assert.Single(message.Fields, f => f.Label == label).Value;

    [Fact]
    public void A_clean_deployment_reports_every_figure_against_the_checklists_limits()
    {
        var message = Report().Render();

        Assert.Equal("📈 D-3 · performance report · add_contact_rls", message.Title);
        Assert.Equal("✅ COMPLETED · 24h after deployment · success criteria met ✅", message.Status);
        Assert.Equal(
            [
                new MessageField("phase durations",
                    "pre-deployment 41.0 s · 1 baseline 12.0 s · 2 migration 3.2 s · 3 index builds 4m51s · 4 validation 20.0 s · total 6m07s"),
                new MessageField("ACCESS EXCLUSIVE holds",
                    "longest 11 ms ✅ (limit ≤ 500 ms): ALTER TABLE contacts ENABLE ROW LEVEL SECURITY 11 ms · CREATE POLICY contacts_org ON contacts 4 ms"),
                new MessageField("blocked app sessions",
                    "peak 1 by the migration (3 in all) during the run · peak 0 during monitoring ✅ (limit ≤ 2)"),
                new MessageField("longest app lock wait", "40 ms during the run · 12 ms during monitoring"),
                new MessageField("queries vs baseline", "org search 12.4 → 10.7 ms (−13.7 %) · point read 0.800 → 0.804 ms (+0.5 %) ✅ (limit ≤ 3 %)"),
                new MessageField("RLS overhead", "1.1 ms (was 20.6 ms) ✅ (limit ≤ 2 ms)"),
                new MessageField("index usage", "idx_contacts_org 1204 scans · idx_contacts_recent 0 scans ⚠️ unused"),
                new MessageField("monitoring", "24h · 17280 samples, 2 failed"),
                new MessageField("breaches", "none"),
            ],
            message.Fields);
        Assert.Empty(message.Checklists);
        Assert.Equal("lessons learned: reply in this thread (what went well, what to change) — replies here are kept in /migrate history", message.Footer);
    }

    [Fact]
    public void Figures_over_the_limits_are_crossed_and_named_in_the_status()
    {
        var report = Report() with
        {
            ExclusiveLockHolds = [new("a", TimeSpan.FromMilliseconds(20)), new("b", TimeSpan.FromMilliseconds(750)), new("c", TimeSpan.FromMilliseconds(30)), new("d", TimeSpan.FromMilliseconds(1))],
            DuringMonitoring = new ApplicationPeaks(10, 0, 4, 4, TimeSpan.FromMilliseconds(900), 60, null),
            Benchmarks = [new("org search", 10, 11, true)],
            RlsOverheadAfterMs = 2.5,
        };

        var message = report.Render();

        Assert.Equal("✅ COMPLETED · 24h after deployment · ❌ over the checklist's limits: longest ACCESS EXCLUSIVE hold, peak blocked application sessions, " +
                     "query degradation, RLS overhead", message.Status);
        Assert.Equal("longest 750 ms ❌ (limit ≤ 500 ms): b 750 ms · c 30 ms · a 20 ms · 1 more", Field(message, "ACCESS EXCLUSIVE holds"));
        Assert.Equal("peak 1 by the migration (3 in all) during the run · peak 4 during monitoring ❌ (limit ≤ 2)", Field(message, "blocked app sessions"));
        Assert.Equal("org search 10.0 → 11.0 ms (+10 %, regressed) ❌ (limit ≤ 3 %)", Field(message, "queries vs baseline"));
        Assert.Equal("2.5 ms (was 20.6 ms) ❌ (limit ≤ 2 ms)", Field(message, "RLS overhead"));
    }

    [Fact]
    public void A_slower_time_the_judge_called_noise_is_shown_but_not_counted_against_the_limit()
    {
        // The verdict passed: same work, or a rise inside the noise. The report must not contradict it.
        var message = (Report() with { Benchmarks = [new("org search", 0.12, 0.2, false), new("point read", 1.6, 1.4, false)] }).Render();

        Assert.Equal("org search 0.120 → 0.200 ms (+66.7 %) · point read 1.6 → 1.4 ms (−12.5 %) ✅ (limit ≤ 3 %); none regressed (same plan and buffers, or within the noise)",
            Field(message, "queries vs baseline"));
        Assert.DoesNotContain("query degradation", message.Status);
    }

    [Fact]
    public void Breaches_are_listed_with_how_each_ended()
    {
        var cleared = new BreachRecord(new ThresholdBreached(T0.AddMinutes(5), Blocked, 7, T0.AddMinutes(4).AddSeconds(30), [6, 11, 7]), false,
            BreachEnd.Cleared, T0.AddMinutes(12), 1);
        var rolledBack = new BreachRecord(new ThresholdBreached(T0.AddHours(3), LockWait, 1300, T0.AddHours(3).AddMinutes(-1), [1100, 1300]), true,
            BreachEnd.RolledBack, T0.AddHours(3).AddMinutes(5));
        var open = new BreachRecord(new ThresholdBreached(T0.AddHours(4), Blocked, 9, T0.AddHours(4).AddSeconds(-30), [9]), true);

        var message = (Report() with { Breaches = [cleared, rolledBack, open], State = DeploymentState.RolledBack }).Render();

        Assert.StartsWith("⏪ ROLLED BACK · ", message.Status, StringComparison.Ordinal);
        Assert.DoesNotContain(message.Fields, f => f.Label == "breaches");
        var section = Assert.Single(message.Checklists);
        Assert.Equal("Breaches", section.Heading);
        Assert.Equal(
            [
                new ChecklistLine(ChecklistState.Done,
                    "blocked-sessions (application sessions blocked by the migration > 5 for 30 s) during the run: from 02:04Z, worst 11 — cleared at 02:12Z after 7m30s"),
                new ChecklistLine(ChecklistState.Failed,
                    "app-lock-wait (application lock wait > 1000 ms for 1m) during monitoring: from 04:59Z, worst 1300 ms — rolled back at 05:05Z"),
                new ChecklistLine(ChecklistState.Failed,
                    "blocked-sessions (application sessions blocked by the migration > 5 for 30 s) during monitoring: from 05:59Z, worst 9 — still breaching"),
            ],
            section.Lines);
    }

    [Fact]
    public void What_was_not_measured_is_said_not_shown_as_zero()
    {
        var report = Report() with
        {
            ExclusiveLockHolds = [],
            DuringRun = ApplicationPeaks.None,
            DuringMonitoring = ApplicationPeaks.None,
            Benchmarks = [],
            RlsOverheadBeforeMs = null,
            RlsOverheadAfterMs = null,
            IndexUsage = [],
            Phases = [],
        };

        var message = report.Render();

        Assert.Equal("not recorded", Field(message, "phase durations"));
        Assert.Equal("none taken ✅", Field(message, "ACCESS EXCLUSIVE holds"));
        Assert.Equal("not sampled during the run · not sampled during monitoring ⚠️ (limit ≤ 2)", Field(message, "blocked app sessions"));
        Assert.Equal("not sampled during the run · not sampled during monitoring", Field(message, "longest app lock wait"));
        Assert.Equal("not measured (no benchmark queries in the runbook)", Field(message, "queries vs baseline"));
        Assert.Equal("not measured (no RLS probe in the runbook)", Field(message, "RLS overhead"));
        Assert.Equal("no new indexes", Field(message, "index usage"));
        Assert.Equal("24h", Field(message, "monitoring"));
    }

    [Fact]
    public void An_rls_probe_that_stopped_answering_is_a_warning()
    {
        var message = (Report() with { RlsOverheadAfterMs = null }).Render();

        Assert.Equal("not measured after (was 20.6 ms) ⚠️", Field(message, "RLS overhead"));
    }

    [Fact]
    public void Monitoring_degradations_are_counted_with_the_longest_blind_spell()
    {
        var report = Report() with
        {
            Degradations = [new MonitoringDegraded(T0, TimeSpan.FromSeconds(45), "x"), new MonitoringDegraded(T0.AddHours(1), TimeSpan.FromMinutes(3), "y")],
        };

        Assert.Equal("24h · 17280 samples, 2 failed · degraded 2× (longest 3m without samples)", Field(report.Render(), "monitoring"));
    }

    [Fact]
    public void The_lessons_learned_prompt_asks_for_replies_in_the_thread()
    {
        var message = PerformanceReport.LessonsLearned(new DeploymentId(3));

        Assert.Equal("📝 D-3 · lessons learned", message.Title);
        Assert.Equal("reply in this thread: what went well, what to change — replies here are kept in /migrate history", message.Footer);
    }
}
