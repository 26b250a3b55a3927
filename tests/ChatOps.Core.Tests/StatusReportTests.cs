using ChatOps.Core.Conversation;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class StatusReportTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 9, 0, 0, TimeSpan.Zero);
    private static readonly DeploymentId D3 = new(3);
    private static readonly IReadOnlyList<ThresholdRule> Rules = ThresholdRule.ChecklistRollbackTriggers;
    private static readonly ThresholdRule BlockedRule = Rules.Single(r => r.Name == "blocked-sessions");

    internal static MetricSample Sample(DateTimeOffset at, double lockWaitMs = 412, int byMigration = 0, int byOthers = 0, int connections = 44,
        TimeSpan? lag = null, IReadOnlyList<IndexBuildProgress>? builds = null) =>
        new(at, "app", TimeSpan.FromMilliseconds(lockWaitMs), byMigration, byOthers, connections, 300, lag,
            builds ?? [], 100, 0, 0, null, TimeSpan.Zero, null, TimeSpan.FromMilliseconds(3));

    private static StatusSnapshot Snapshot(MetricSample? sample = null, SampleGap? gap = null, double? benchmark = 1.8, double? rls = 1.1,
        IReadOnlyList<ThresholdBreached>? breaching = null, StatusStage stage = StatusStage.Running, RunbookPhase? phase = RunbookPhase.Migration) =>
        new(D3, "add_contact_rls", stage, phase, 3, 7, Now.AddMinutes(-12).AddSeconds(-40), Now, sample, gap, benchmark, rls, Rules, breaching ?? [])
        {
            NextStatusAt = Now.AddMinutes(15),
        };

    private static string Field(ChatMessage message, string label) => Assert.Single(message.Fields, f => f.Label == label).Value;

    [Fact]
    public void Every_field_within_its_limits_shows_its_value_a_tick_and_its_threshold()
    {
        var sample = Sample(Now.AddSeconds(-3), lag: TimeSpan.FromMilliseconds(600),
            builds: [new IndexBuildProgress("idx_contacts_org", "public.contacts", "building index: loading tuples in tree", 62.4)]);

        var message = StatusReport.Render(Snapshot(sample));

        Assert.Equal("📊 D-3 · status · add_contact_rls", message.Title);
        Assert.Equal("▶️ RUNNING · all within limits ✅", message.Status);
        Assert.Equal(
            [
                new MessageField("phase", "phase 2 · execute migration · step 3/7"),
                new MessageField("elapsed", "12m40s"),
                new MessageField("index builds", "idx_contacts_org on public.contacts: building index: loading tuples in tree 62 %"),
                new MessageField("longest app lock wait", "412 ms ✅ (trigger > 1000 ms for 1m)"),
                new MessageField("blocked app sessions", "0 ✅ (trigger > 5 for 30 s)"),
                new MessageField("connections", "44/300 (15 %) ✅ (warn > 80 %)"),
                new MessageField("replication lag", "600 ms ✅ (limit 10 s)"),
                new MessageField("benchmark delta", "+1.8 % ✅ (trigger > 10 % for 3 readings)"),
                new MessageField("RLS overhead", "1.1 ms ✅ (trigger > 5 ms for 3 readings)"),
            ],
            message.Fields);
        Assert.Equal("next: phase 3 after the migration's statements (4 to go), next status 09:15Z · /migrate pause D-3 | /migrate rollback D-3",
            message.Footer);
    }

    [Fact]
    public void Connections_over_80_percent_warn_and_replication_lag_at_10_s_fails_as_the_pre_deployment_checks_judge_them()
    {
        var crowded = StatusReport.Render(Snapshot(Sample(Now, connections: 241, lag: TimeSpan.FromSeconds(9.5))));

        Assert.Equal("241/300 (80 %) ⚠️ (warn > 80 %)", Field(crowded, "connections"));
        Assert.Equal("9.5 s ✅ (limit 10 s)", Field(crowded, "replication lag"));
        Assert.Equal("▶️ RUNNING · ⚠️ watch: connections", crowded.Status);

        var lagging = StatusReport.Render(Snapshot(Sample(Now, connections: 240, lag: TimeSpan.FromSeconds(10))));

        Assert.Equal("240/300 (80 %) ✅ (warn > 80 %)", Field(lagging, "connections"));   // 80 % exactly is not above it
        Assert.Equal("10.0 s ❌ (limit 10 s)", Field(lagging, "replication lag"));
        Assert.Equal("▶️ RUNNING · ❌ over the limit: replication lag", lagging.Status);
    }

    [Fact]
    public void After_the_deployment_every_blocked_application_session_counts_against_the_rule()
    {
        var snapshot = Snapshot(Sample(Now, byMigration: 0, byOthers: 7), stage: StatusStage.PostDeploymentMonitoring, phase: null) with
        {
            MonitoringStartedAt = Now.AddMinutes(-10),
            MonitoringEndsAt = Now.AddHours(23),
        };

        var message = StatusReport.Render(snapshot);

        Assert.Equal("7 ⚠️ (trigger > 5 for 30 s)", Field(message, "blocked app sessions"));
        Assert.Equal("👀 POST-DEPLOYMENT MONITORING · ⚠️ watch: blocked app sessions", message.Status);
    }

    [Fact]
    public void Over_a_threshold_but_not_yet_for_its_window_is_a_warning_not_a_breach()
    {
        var message = StatusReport.Render(Snapshot(Sample(Now, lockWaitMs: 1500), benchmark: 12.5));

        Assert.Equal("1500 ms ⚠️ (trigger > 1000 ms for 1m)", Field(message, "longest app lock wait"));
        Assert.Equal("+12.5 % ⚠️ (trigger > 10 % for 3 readings)", Field(message, "benchmark delta"));
        Assert.Equal("▶️ RUNNING · ⚠️ watch: longest app lock wait, benchmark delta", message.Status);
    }

    [Fact]
    public void An_active_breach_is_a_cross_in_its_field_and_in_the_status_line()
    {
        var breach = new ThresholdBreached(Now, BlockedRule, 7, Now.AddSeconds(-30), [6, 7, 7, 8, 7, 7, 7]);

        var message = StatusReport.Render(Snapshot(Sample(Now, byMigration: 7, byOthers: 2), breaching: [breach]));

        Assert.Equal("9 (7 by the migration) ❌ (trigger > 5 for 30 s)", Field(message, "blocked app sessions"));
        Assert.Equal("▶️ RUNNING · ❌ breached: blocked-sessions", message.Status);
        Assert.Equal("412 ms ✅ (trigger > 1000 ms for 1m)", Field(message, "longest app lock wait"));
    }

    [Fact]
    public void The_rule_judges_the_sessions_blocked_by_the_migration_not_those_the_application_blocks_itself()
    {
        var message = StatusReport.Render(Snapshot(Sample(Now, byMigration: 1, byOthers: 8)));

        Assert.Equal("9 (1 by the migration) ✅ (trigger > 5 for 30 s)", Field(message, "blocked app sessions"));
    }

    [Fact]
    public void A_failed_sample_newer_than_the_last_good_one_is_shown_as_a_gap_never_as_zeros()
    {
        var lastGood = Sample(Now.AddSeconds(-50), lockWaitMs: 0, connections: 0);
        var gap = new SampleGap(Now.AddSeconds(-5), "connection refused");

        var message = StatusReport.Render(Snapshot(lastGood, gap));

        const string missing = "no sample since 08:59:10Z";
        Assert.Equal("▶️ RUNNING · ⚠️ " + missing, message.Status);
        Assert.Equal(missing + "; the attempt at 08:59:55Z failed: connection refused", Field(message, "sampling"));
        Assert.Equal(missing, Field(message, "index builds"));
        Assert.Equal(missing + " ⚠️ (trigger > 1000 ms for 1m)", Field(message, "longest app lock wait"));
        Assert.Equal(missing + " ⚠️ (trigger > 5 for 30 s)", Field(message, "blocked app sessions"));
        Assert.Equal(missing + " ⚠️ (warn > 80 %)", Field(message, "connections"));
        Assert.Equal(missing + " ⚠️ (limit 10 s)", Field(message, "replication lag"));
        Assert.DoesNotContain(message.Fields, f => f.Value.StartsWith("0 ", StringComparison.Ordinal) || f.Value.StartsWith("0/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_sample_older_than_three_intervals_is_stale_even_without_a_recorded_failure()
    {
        var message = StatusReport.Render(Snapshot(Sample(Now.AddSeconds(-16))));

        Assert.Equal("no sample since 08:59:44Z", Field(message, "sampling"));
        Assert.Equal("no sample since 08:59:44Z ⚠️ (warn > 80 %)", Field(message, "connections"));

        var fresh = StatusReport.Render(Snapshot(Sample(Now.AddSeconds(-15))));
        Assert.DoesNotContain(fresh.Fields, f => f.Label == "sampling");
        Assert.Equal("44/300 (15 %) ✅ (warn > 80 %)", Field(fresh, "connections"));
    }

    [Fact]
    public void Before_any_sample_or_measurement_the_post_says_so_and_warns()
    {
        var message = StatusReport.Render(Snapshot(benchmark: null, rls: null));

        Assert.Equal("no sample yet", Field(message, "sampling"));
        Assert.Equal("no sample yet ⚠️ (trigger > 1000 ms for 1m)", Field(message, "longest app lock wait"));
        Assert.Equal("not measured yet ⚠️ (trigger > 10 % for 3 readings)", Field(message, "benchmark delta"));
        Assert.Equal("not measured yet ⚠️ (trigger > 5 ms for 3 readings)", Field(message, "RLS overhead"));
    }

    [Fact]
    public void Metrics_without_a_rule_are_shown_unmarked_and_no_replica_and_no_build_are_said_in_words()
    {
        var snapshot = Snapshot(Sample(Now)) with { Rules = [] };

        var message = StatusReport.Render(snapshot);

        Assert.Equal("412 ms", Field(message, "longest app lock wait"));
        Assert.Equal("none", Field(message, "index builds"));
        Assert.Equal("no replicas", Field(message, "replication lag"));
        Assert.Equal("▶️ RUNNING · all within limits ✅", message.Status);
    }

    [Fact]
    public void A_breach_of_a_metric_no_field_shows_gets_its_own_line()
    {
        var errorRate = Rules.Single(r => r.Metric == Metric.RollbackRatioIncreasePoints);
        var breach = new ThresholdBreached(Now, errorRate, 7.5, Now.AddMinutes(-2), [6, 7, 7.5]);

        var message = StatusReport.Render(Snapshot(Sample(Now), breaching: [breach]));

        Assert.Equal("+7.5 pts ❌ (trigger > 5 pts for 2m)", Field(message, "rollback-ratio increase"));
        Assert.Equal("▶️ RUNNING · ❌ breached: error-rate", message.Status);
    }

    [Fact]
    public void Paused_says_how_to_resume_or_roll_back()
    {
        var message = StatusReport.Render(Snapshot(Sample(Now), stage: StatusStage.Paused));

        Assert.StartsWith("⏸️ PAUSED · ", message.Status, StringComparison.Ordinal);
        Assert.Equal("next: paused: /migrate resume D-3 to continue, /migrate rollback D-3 to roll back, next status 09:15Z", message.Footer);
    }

    [Fact]
    public void Post_deployment_monitoring_shows_how_far_it_is_and_when_it_ends()
    {
        var snapshot = Snapshot(Sample(Now), stage: StatusStage.PostDeploymentMonitoring, phase: null) with
        {
            MonitoringStartedAt = Now.AddMinutes(-70),
            MonitoringEndsAt = Now.AddMinutes(-70).AddHours(24),
        };

        var message = StatusReport.Render(snapshot);

        Assert.Equal("👀 POST-DEPLOYMENT MONITORING · all within limits ✅", message.Status);
        Assert.Equal("post-deployment monitoring · 1h10m of 24h (until 07:50Z)", Field(message, "phase"));
        Assert.Equal("next: post-deployment monitoring until 07:50Z, next status 09:15Z · /migrate rollback D-3", message.Footer);

        var last = StatusReport.Render(snapshot with { NextStatusAt = null });
        Assert.Equal("next: post-deployment monitoring until 07:50Z, then the performance report · /migrate rollback D-3", last.Footer);
    }

    [Theory]
    [InlineData(RunbookPhase.PreDeployment, "next: phase 1 baseline after the pre-deployment checks")]
    [InlineData(RunbookPhase.Baseline, "next: phase 2 migration after the baseline")]
    [InlineData(RunbookPhase.IndexBuilds, "next: phase 4 validation after the index builds")]
    [InlineData(RunbookPhase.Validation, "next: the verdict after validation, then post-deployment monitoring")]
    public void The_footer_names_what_comes_after_the_current_phase(RunbookPhase phase, string expected)
    {
        var message = StatusReport.Render(Snapshot(Sample(Now), phase: phase));

        Assert.StartsWith(expected + ", next status 09:15Z", message.Footer, StringComparison.Ordinal);
    }
}
