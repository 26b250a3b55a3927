using ChatOps.Core.Monitoring;
using Microsoft.Extensions.Time.Testing;

namespace ChatOps.Core.Tests;

public class ThresholdMonitorTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private static readonly ThresholdRule Blocked = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Name == "blocked-sessions");

    private static MetricSample Sample(DateTimeOffset at, int blocked = 0, double lockWaitMs = 0, long commits = 100, long rollbacks = 0) =>
        new(at, "app", TimeSpan.FromMilliseconds(lockWaitMs), blocked, 0, 10, 300, null, [], commits, rollbacks, 0, null, TimeSpan.Zero, null, TimeSpan.Zero);

    [Fact]
    public void A_breach_fires_only_after_its_whole_window_and_only_once()
    {
        var clock = new FakeTimeProvider();
        var monitor = new ThresholdMonitor([Blocked], Interval, clock);
        var fired = new List<ThresholdEvent>();

        // blocked > 5 from t=0; the rule's window is 30 s.
        for (var i = 0; i <= 6; i++)
        {
            fired.AddRange(monitor.Observe(Sample(clock.GetUtcNow(), blocked: 7 + i)));
            if (i < 6) Assert.Empty(fired);   // 0 … 25 s: not yet the whole window
            clock.Advance(Interval);
        }
        var breach = Assert.IsType<ThresholdBreached>(Assert.Single(fired));
        Assert.Equal(Blocked, breach.Rule);
        Assert.Equal(clock.Start, breach.Since);
        Assert.Equal([7, 8, 9, 10, 11, 12, 13], breach.Readings);

        // Still breaching: no second alert.
        Assert.Empty(monitor.Observe(Sample(clock.GetUtcNow(), blocked: 20)));
        Assert.Equal([Blocked], monitor.Breached);
    }

    [Fact]
    public void After_the_deployment_sessions_blocked_by_anything_count_during_the_run_only_those_the_migration_blocks()
    {
        var clock = new FakeTimeProvider();
        var during = new ThresholdMonitor([Blocked], Interval, clock);
        var after = new ThresholdMonitor([Blocked], Interval, clock) { AfterDeployment = true };
        var (duringEvents, afterEvents) = (new List<ThresholdEvent>(), new List<ThresholdEvent>());

        // Seven application sessions wait on each other (no session of the migration involved) for 30 s.
        for (var i = 0; i <= 6; i++)
        {
            var sample = new MetricSample(clock.Start.AddSeconds(5 * i), "app", TimeSpan.FromSeconds(2), 0, 7, 10, 300, null, [], 100, 0, 0, null,
                TimeSpan.Zero, null, TimeSpan.Zero);
            duringEvents.AddRange(during.Observe(sample));
            afterEvents.AddRange(after.Observe(sample));
        }

        Assert.Empty(duringEvents);
        var breach = Assert.IsType<ThresholdBreached>(Assert.Single(afterEvents));
        Assert.Equal(7, breach.Value);
        // What it says counts what it counted: every blocked application session, not only the migration's (the alert, the audit, the report).
        Assert.Equal("blocked application sessions > 5 for 30.0 s", breach.Rule.Describe());
        Assert.Equal("blocked application sessions > 5 for 30 s", Reporting.ReportText.Describe(breach.Rule));
        Assert.Equal(Blocked.Name, breach.Rule.Name);
        Assert.Equal("blocked application sessions", Assert.Single(after.Breached).MetricLabel);
        Assert.Equal("application sessions blocked by the migration > 5 for 30.0 s", Blocked.Describe());   // during the run, as it counts then
    }

    [Fact]
    public void One_healthy_sample_restarts_the_window_and_recovery_clears_a_fired_rule()
    {
        var clock = new FakeTimeProvider();
        var monitor = new ThresholdMonitor([Blocked], Interval, clock);
        var events = new List<ThresholdEvent>();
        void At(int seconds, int blocked) => events.AddRange(monitor.Observe(Sample(clock.Start.AddSeconds(seconds), blocked)));

        At(0, 9); At(5, 9); At(10, 9); At(15, 9); At(20, 9); At(25, 2);   // dips before 30 s
        At(30, 9); At(35, 9); At(40, 9); At(45, 9); At(50, 9); At(55, 9);
        Assert.Empty(events);
        At(60, 9);
        Assert.IsType<ThresholdBreached>(Assert.Single(events));

        At(65, 1);
        var cleared = Assert.IsType<ThresholdCleared>(events[^1]);
        Assert.Equal(1, cleared.Value);
        Assert.Empty(monitor.Breached);
    }

    [Fact]
    public void Round_based_rules_need_consecutive_readings()
    {
        var clock = new FakeTimeProvider();
        var degradation = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Metric == Metric.QueryDegradationPercent);
        var monitor = new ThresholdMonitor([degradation], Interval, clock);

        Assert.Empty(monitor.Observe(Metric.QueryDegradationPercent, 12, clock.GetUtcNow()));
        Assert.Empty(monitor.Observe(Metric.QueryDegradationPercent, 15, clock.GetUtcNow()));
        Assert.Empty(monitor.Observe(Metric.QueryDegradationPercent, 4, clock.GetUtcNow()));   // recovers
        Assert.Empty(monitor.Observe(Metric.QueryDegradationPercent, 11, clock.GetUtcNow()));
        Assert.Empty(monitor.Observe(Metric.QueryDegradationPercent, 11, clock.GetUtcNow()));
        Assert.IsType<ThresholdBreached>(Assert.Single(monitor.Observe(Metric.QueryDegradationPercent, 13, clock.GetUtcNow())));
    }

    [Fact]
    public void A_gap_longer_than_three_intervals_degrades_monitoring_once_and_does_not_count_as_healthy()
    {
        var clock = new FakeTimeProvider();
        var monitor = new ThresholdMonitor([Blocked], Interval, clock);
        monitor.Observe(Sample(clock.GetUtcNow(), blocked: 9));

        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.Empty(monitor.Tick());                                      // exactly three intervals: not yet
        clock.Advance(TimeSpan.FromSeconds(1));
        var degraded = Assert.IsType<MonitoringDegraded>(Assert.Single(monitor.ObserveGap(new SampleGap(clock.GetUtcNow(), "connection lost"))));
        Assert.Equal(TimeSpan.FromSeconds(16), degraded.Gap);
        Assert.Equal("connection lost", degraded.Reason);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(monitor.Tick());                                      // once per gap

        // The breach that began before the gap was not reset by it: the window still counts from t=0.
        clock.Advance(TimeSpan.FromSeconds(5));
        var breach = Assert.IsType<ThresholdBreached>(Assert.Single(monitor.Observe(Sample(clock.GetUtcNow(), blocked: 9))));
        Assert.Equal(clock.Start, breach.Since);

        // A sample ends the gap; a later gap is reported again.
        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Single(monitor.Tick());
    }

    [Fact]
    public void The_rollback_ratio_rule_compares_with_the_baseline()
    {
        var clock = new FakeTimeProvider();
        var rule = ThresholdRule.ChecklistRollbackTriggers.Single(r => r.Metric == Metric.RollbackRatioIncreasePoints);
        var monitor = new ThresholdMonitor([rule], Interval, clock);
        var events = new List<ThresholdEvent>();
        for (var s = 0; s <= 120; s += 5)
            events.AddRange(monitor.Observe(Sample(clock.Start.AddSeconds(s), commits: 90, rollbacks: 10), rollbackRatioBaseline: 2.0));   // 10 % vs 2 %

        var breach = Assert.IsType<ThresholdBreached>(Assert.Single(events));
        Assert.Equal(clock.Start.AddSeconds(120), breach.At);
        Assert.Equal(8.0, breach.Value, 3);
    }
}
