using System.Text.Json;
using ChatOps.Core.Conversation;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Reporting;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class MonitoringSummaryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 2, 0, 0, TimeSpan.FromHours(1));
    private static readonly ThresholdRule Blocked = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "blocked-sessions");
    private static readonly ThresholdRule LockWait = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "app-lock-wait");

    private static MetricSample Sample(int seconds, double lockWaitMs = 10, int byMigration = 0, int byOthers = 0, int connections = 40, double? lagMs = null) =>
        StatusReportTests.Sample(T0.AddSeconds(seconds), lockWaitMs, byMigration, byOthers, connections, lagMs is { } l ? TimeSpan.FromMilliseconds(l) : null);

    private static ThresholdBreached Breach(ThresholdRule rule, int seconds, params double[] readings) =>
        new(T0.AddSeconds(seconds), rule, readings[^1], T0.AddSeconds(seconds - 30), readings);

    [Fact]
    public void Peaks_are_kept_apart_for_the_run_and_for_post_deployment_monitoring()
    {
        var summary = new MonitoringSummary();
        summary.Observe(Sample(0, lockWaitMs: 40, byMigration: 1, byOthers: 2, connections: 44, lagMs: 600));
        summary.Observe(Sample(5, lockWaitMs: 850, byMigration: 3, connections: 41, lagMs: 200));
        summary.Observe(new SampleGap(T0.AddSeconds(10), "timeout"));
        summary.MonitoringStarted(T0.AddSeconds(60));
        summary.Observe(Sample(60, lockWaitMs: 12, byOthers: 1, connections: 38));
        summary.Observe(Sample(65, lockWaitMs: 5, connections: 39));

        Assert.Equal(new ApplicationPeaks(2, 1, 3, 3, TimeSpan.FromMilliseconds(850), 44, TimeSpan.FromMilliseconds(600)), summary.DuringRun);
        Assert.Equal(new ApplicationPeaks(2, 0, 0, 1, TimeSpan.FromMilliseconds(12), 39, null), summary.DuringMonitoring);
        Assert.Equal(T0.AddSeconds(65), summary.LatestSample!.At);
        Assert.Equal("timeout", summary.LatestGap!.Error);
    }

    [Fact]
    public void A_late_reading_counts_towards_the_peaks_but_does_not_replace_the_latest()
    {
        var summary = new MonitoringSummary();
        summary.Observe(Sample(10, lockWaitMs: 5));
        summary.Observe(Sample(5, lockWaitMs: 900));

        Assert.Equal(T0.AddSeconds(10), summary.LatestSample!.At);
        Assert.Equal(TimeSpan.FromMilliseconds(900), summary.DuringRun.LongestAppLockWait);
    }

    [Fact]
    public void Breach_history_records_how_each_breach_ended()
    {
        var summary = new MonitoringSummary();
        summary.Observe(Breach(Blocked, 30, 6, 7, 9));
        summary.Observe(Breach(Blocked, 35, 6, 7, 9, 11));          // a monitor started by another replica fires again: not a second breach
        summary.Observe(new ThresholdCleared(T0.AddSeconds(60), Blocked, 2));
        summary.Observe(new ThresholdCleared(T0.AddSeconds(65), LockWait, 1));   // nothing open for that rule: ignored
        summary.MonitoringStarted(T0.AddSeconds(100));
        summary.Observe(Breach(Blocked, 200, 8, 8, 8));
        summary.Observe(Breach(LockWait, 210, 1200, 1500, 1300));
        summary.RolledBack(T0.AddSeconds(220));
        summary.Observe(Breach(Blocked, 300, 9, 9, 9));

        Assert.Equal(
            [
                new BreachRecord(summary.Breaches[0].Breach, false, BreachEnd.Cleared, T0.AddSeconds(60), 2),
                new BreachRecord(summary.Breaches[1].Breach, true, BreachEnd.RolledBack, T0.AddSeconds(220)),
                new BreachRecord(summary.Breaches[2].Breach, true, BreachEnd.RolledBack, T0.AddSeconds(220)),
                new BreachRecord(summary.Breaches[3].Breach, true),
            ],
            summary.Breaches);
        Assert.Equal([9.0], summary.Breaches.Select(b => b.Breach.Readings[^1]).Take(1));
        Assert.Equal(1500, summary.Breaches[2].Worst);
        Assert.Equal(["blocked-sessions"], summary.ActiveBreaches.Keys);
        Assert.Equal(T0.AddSeconds(300), summary.ActiveBreaches["blocked-sessions"].At);
    }

    [Fact]
    public void Degradations_and_measurements_are_kept()
    {
        var summary = new MonitoringSummary();
        summary.Observe(new MonitoringDegraded(T0, TimeSpan.FromSeconds(45), "no sample arrived"));
        summary.Measured(Metric.QueryDegradationPercent, 4.5);
        summary.Measured(Metric.RlsOverheadMs, 1.25);
        summary.Measured(Metric.QueryDegradationPercent, -2);
        summary.Measured(Metric.AppLockWaitMs, 999);   // sampled metrics come with samples, not here

        Assert.Equal([new MonitoringDegraded(T0, TimeSpan.FromSeconds(45), "no sample arrived")], summary.Degradations);
        Assert.Equal(-2, summary.LatestBenchmarkDeltaPercent);
        Assert.Equal(1.25, summary.LatestRlsOverheadMs);
    }

    private static MonitoringSummary Busy()
    {
        var summary = new MonitoringSummary();
        var blocker = new BlockingSession(4711, "billing-worker", "idle in transaction", TimeSpan.FromMinutes(6), "UPDATE contacts SET name = ?", "RowExclusiveLock", "public.contacts");
        summary.Observe(StatusReportTests.Sample(T0.AddSeconds(5), byMigration: 2));
        summary.Observe(new SampleGap(T0.AddSeconds(10), "timeout \"quoted\" ✓"));
        summary.Observe(Breach(Blocked, 40, 6, 7, 9.5));
        summary.Observe(Breach(new ThresholdRule("rls", Metric.RlsOverheadMs, Comparison.LessThan, 0.1, null, 3, BreachAction.Alert), 45, 0.01, 0.02, 0.03));
        summary.Observe(new ThresholdCleared(T0.AddSeconds(50), Blocked, 1));
        summary.Observe(new MonitoringDegraded(T0.AddSeconds(55), TimeSpan.FromSeconds(45), "no sample arrived"));
        summary.Measured(Metric.QueryDegradationPercent, 1.0 / 3);
        summary.MonitoringStarted(T0.AddMinutes(5));
        summary.Observe(StatusReportTests.Sample(T0.AddMinutes(6), 1234.5678, 7, 2, 44, TimeSpan.FromMilliseconds(612.3),
            [new IndexBuildProgress("idx_contacts_org", "public.contacts", "building index: loading tuples in tree", 62.4), new("idx_b", "public.b", "waiting for old snapshots", null)])
            with { ExecutorWaitsFor = [blocker], ExecutorWaitEvent = "Lock:virtualxid", SessionsLost = 3 });
        return summary;
    }

    [Fact]
    public void The_summary_survives_a_round_trip_through_json_with_its_times_spans_enums_and_nested_records()
    {
        var summary = Busy();

        var restored = MonitoringSummary.FromJson(summary.ToJson());

        Assert.Equal(2, restored.LatestSample!.IndexBuilds.Count);   // the rich sample is the one compared below
        // Every value, nested list included: the original and the restored summary serialize identically …
        Assert.Equal(summary.ToJson(), restored.ToJson());
        // … and the records that carry them compare equal where lists do not get in the way.
        Assert.Equal(summary.LatestSample! with { IndexBuilds = [], ExecutorWaitsFor = [] }, restored.LatestSample! with { IndexBuilds = [], ExecutorWaitsFor = [] });
        Assert.Equal(summary.LatestSample!.IndexBuilds, restored.LatestSample!.IndexBuilds);
        Assert.Equal(summary.LatestSample.ExecutorWaitsFor, restored.LatestSample.ExecutorWaitsFor);
        Assert.Equal(summary.LatestSample.At.Offset, restored.LatestSample.At.Offset);
        Assert.Equal(summary.LatestGap, restored.LatestGap);
        Assert.Equal(summary.DuringRun, restored.DuringRun);
        Assert.Equal(summary.DuringMonitoring, restored.DuringMonitoring);
        Assert.Equal(summary.MonitoringStartedAt, restored.MonitoringStartedAt);
        Assert.Equal(summary.LatestBenchmarkDeltaPercent, restored.LatestBenchmarkDeltaPercent);
        Assert.Equal(summary.Degradations, restored.Degradations);
        Assert.Equal(summary.Breaches.Count, restored.Breaches.Count);
        for (var i = 0; i < summary.Breaches.Count; i++)
        {
            Assert.Equal(summary.Breaches[i] with { Breach = null! }, restored.Breaches[i] with { Breach = null! });
            Assert.Equal(summary.Breaches[i].Breach.Rule, restored.Breaches[i].Breach.Rule);
            Assert.Equal(summary.Breaches[i].Breach.Since, restored.Breaches[i].Breach.Since);
            Assert.Equal(summary.Breaches[i].Breach.Readings, restored.Breaches[i].Breach.Readings);
        }
        Assert.Equal(["rls"], restored.ActiveBreaches.Keys);
    }

    [Fact]
    public void The_restored_summary_carries_on_where_the_stored_one_stopped()
    {
        var restored = MonitoringSummary.FromJson(Busy().ToJson());

        restored.Observe(new ThresholdCleared(T0.AddMinutes(7), restored.Breaches[1].Breach.Rule, 0.5));
        restored.Observe(StatusReportTests.Sample(T0.AddMinutes(8), byMigration: 2));

        Assert.Empty(restored.ActiveBreaches);
        Assert.Equal(BreachEnd.Cleared, restored.Breaches[1].End);
        Assert.Equal(7, restored.DuringMonitoring.PeakBlockedByMigration);
        Assert.Equal(2, restored.DuringRun.PeakBlockedByMigration);
        Assert.Equal(2, restored.DuringMonitoring.Samples);
    }

    [Fact]
    public void Enums_are_stored_by_name_so_a_reordered_enum_cannot_change_stored_state()
    {
        using var json = JsonDocument.Parse(Busy().ToJson());

        var breach = json.RootElement.GetProperty("breaches")[0];
        Assert.Equal("Cleared", breach.GetProperty("end").GetString());
        Assert.Equal("BlockedAppSessions", breach.GetProperty("breach").GetProperty("rule").GetProperty("metric").GetString());
        Assert.Equal("00:00:30", breach.GetProperty("breach").GetProperty("rule").GetProperty("for").GetString());
    }

    [Fact]
    public void Text_that_is_not_a_stored_summary_is_refused()
    {
        Assert.Throws<JsonException>(() => MonitoringSummary.FromJson("null"));
        Assert.Throws<JsonException>(() => MonitoringSummary.FromJson("{\"breaches\": 3}"));
    }

    [Fact]
    public void The_status_snapshot_comes_from_the_summary_with_the_next_post_and_the_end_of_monitoring()
    {
        var summary = Busy();
        var now = T0.AddMinutes(6).AddSeconds(2);
        var cadence = new StatusCadence();

        var snapshot = summary.Status(new DeploymentId(3), "add_contact_rls", StatusStage.PostDeploymentMonitoring, null, 7, 7, T0, now,
            ThresholdRule.ChecklistRollbackTriggers, cadence);

        Assert.Same(summary.LatestSample, snapshot.CurrentSample);
        Assert.Equal(1.0 / 3, snapshot.BenchmarkDeltaPercent);
        Assert.Equal(["rls"], snapshot.Breaching.Select(b => b.Rule.Name));
        Assert.Equal(T0.AddMinutes(5), snapshot.MonitoringStartedAt);
        Assert.Equal(T0.AddMinutes(5).AddHours(24), snapshot.MonitoringEndsAt);
        Assert.Equal(T0.AddMinutes(20), snapshot.NextStatusAt);

        var running = new MonitoringSummary().Status(new DeploymentId(3), "m", StatusStage.Running, RunbookPhase.Migration, 1, 7, T0, T0.AddMinutes(1),
            [], cadence);
        Assert.Equal(T0.AddMinutes(16), running.NextStatusAt);
        Assert.Null(running.MonitoringEndsAt);
    }
}
