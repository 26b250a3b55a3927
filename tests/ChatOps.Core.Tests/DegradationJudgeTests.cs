using ChatOps.Core.Monitoring;

namespace ChatOps.Core.Tests;

public class DegradationJudgeTests
{
    private const string IndexPlan = "Limit[/](Index Scan[contacts/contacts_org_idx]())";
    private const string SeqPlan = "Limit[/](Sort[/](Seq Scan[contacts/]()))";

    private static QueryMeasurement Query(string name, double[] times, long buffers, string plan = IndexPlan) =>
        new(name, times, buffers, plan, [plan == IndexPlan ? "Index Scan using contacts_org_idx on contacts" : "Seq Scan on contacts"]);

    private static QueryMeasurement Control(double ms) => new("control", [ms, ms, ms], 0, "Aggregate[/](Function Scan[/]())", []);

    [Fact]
    public void Same_plan_and_buffers_is_not_a_regression_whatever_the_time_did()
    {
        var before = Query("recent", [0.20, 0.21, 0.22, 0.25], 12);
        var after = Query("recent", [0.9, 0.95, 1.0, 1.1], 12);   // +350 %: a busy CPU, and the control did not see it

        var reading = DegradationJudge.Judge([before], Control(0.5), [after], Control(0.5));

        Assert.Equal(0, reading.Percent);
        var judged = Assert.Single(reading.Queries);
        Assert.False(judged.Regressed);
        Assert.Contains("plan unchanged, buffers 12 → 12", judged.Why);
        Assert.Contains("same work, not a regression", judged.Why);
    }

    [Fact]
    public void A_changed_plan_with_far_more_buffers_and_time_is_a_regression_and_says_why()
    {
        var before = Query("recent", [0.20, 0.21, 0.22], 12);
        var after = Query("recent", [3.1, 3.2, 3.4], 4210, SeqPlan);

        var reading = DegradationJudge.Judge([before], Control(0.5), [after], Control(0.5));

        var judged = Assert.Single(reading.Queries);
        Assert.True(judged.Regressed);
        Assert.InRange(reading.Percent, 1300, 1500);
        Assert.Contains("Index Scan using contacts_org_idx on contacts became Seq Scan on contacts", judged.Why);
        Assert.Contains("buffers 12 → 4,210", judged.Why);
    }

    [Fact]
    public void The_machines_slow_down_seen_by_the_control_query_is_discounted()
    {
        var before = Query("search", [1.0, 1.05, 1.1], 100);
        // More buffers (work changed), and 2× the time — but the control is 2× slower too.
        var after = Query("search", [2.0, 2.1, 2.2], 200);

        var reading = DegradationJudge.Judge([before], Control(0.5), [after], Control(1.0));

        Assert.Equal(2, reading.ControlRatio);
        Assert.False(Assert.Single(reading.Queries).Regressed);
        Assert.Equal(0, reading.Percent);
        Assert.Contains("within noise", reading.Queries[0].Why);
    }

    [Fact]
    public void A_faster_control_never_makes_a_query_look_slower()
    {
        Assert.Equal(1, DegradationJudge.ControlRatio(Control(1.0), Control(0.25)));
    }

    [Fact]
    public void Differences_below_the_absolute_floor_or_inside_the_baselines_own_spread_do_not_count()
    {
        // Tiny: +0.03 ms although the plan changed.
        var tinyBefore = Query("point", [0.020, 0.021, 0.022], 3);
        var tinyAfter = Query("point", [0.050, 0.051, 0.052], 30, SeqPlan);
        Assert.False(DegradationJudge.JudgeQuery(tinyBefore, tinyAfter, 1).Regressed);

        // Inside the baseline's slowest run.
        var spreadBefore = Query("search", [1.0, 1.1, 3.0], 100);
        var spreadAfter = Query("search", [2.5, 2.6, 2.7], 200);
        Assert.False(DegradationJudge.JudgeQuery(spreadBefore, spreadAfter, 1).Regressed);
    }

    // The demo's benchmark query at baseline: seven runs around 0.2 ms, 19 buffers.
    private static readonly QueryMeasurement OrganizationSearchBefore = Query("organization search", [0.190, 0.195, 0.198, 0.199, 0.200, 0.205, 0.210], 19);

    [Fact]
    public void A_burst_of_contention_that_spares_the_fastest_run_is_noise_even_on_a_new_plan()
    {
        // The demo's case: a new index, one more buffer, and a busy machine slowing most of the round's runs
        // (the control query, run apart, did not see it). The fastest run still costs what the baseline's did.
        var before = OrganizationSearchBefore;
        var after = Query("organization search", [0.170, 0.26, 0.27, 0.27, 0.28, 0.29, 0.31], 20, SeqPlan);

        var judged = DegradationJudge.JudgeQuery(before, after, 1);

        Assert.False(judged.Regressed, judged.Why);
        Assert.Contains("within noise", judged.Why);
        Assert.Contains("fastest 0.190 → 0.170 ms", judged.Why);
    }

    [Fact]
    public void More_work_that_slows_every_run_the_fastest_included_is_a_regression()
    {
        var before = OrganizationSearchBefore;
        var after = Query("organization search", [0.30, 0.31, 0.31, 0.32, 0.33, 0.35, 0.40], 20, SeqPlan);

        var judged = DegradationJudge.JudgeQuery(before, after, 1);

        Assert.True(judged.Regressed, judged.Why);
        Assert.Equal(0.32, judged.CountedMs, 6);
    }

    [Fact]
    public void The_round_figure_sums_the_counted_times_of_the_queries_present_before()
    {
        var baseline = new[] { Query("a", [1.0, 1.0, 1.0], 10), Query("b", [1.0, 1.0, 1.0], 10) };
        var after = new[]
        {
            Query("a", [3.0, 3.0, 3.0], 500, SeqPlan),        // regressed: 1 → 3 ms
            Query("b", [5.0, 5.0, 5.0], 10),                  // same work: counts as its baseline
            Query("new", [9.0, 9.0, 9.0], 10),               // after-only: not compared
        };

        var reading = DegradationJudge.Judge(baseline, Control(0.5), after, Control(0.5));

        Assert.Equal(2, reading.Queries.Count);
        Assert.Equal(2.0, reading.BeforeMs, 6);
        Assert.Equal(4.0, reading.CountedMs, 6);
        Assert.Equal(100, reading.Percent, 6);
    }
}

public class FailureRateJudgeTests
{
    [Fact]
    public void A_rise_needs_enough_failures_and_more_than_the_allowed_points()
    {
        var rose = FailureRateJudge.Judge(new TransactionCounts(Commits: 60, Rollbacks: 40, Deadlocks: 0, SessionsLost: 0), ownFailures: 0, ownCommits: 0, baselinePercent: 0.5, allowedPoints: 5);
        Assert.True(rose.Rose);
        Assert.Equal(40, rose.Failures);
        Assert.Contains("40 of 100 application transactions failed (40.0 %", rose.Detail);

        var stray = FailureRateJudge.Judge(new TransactionCounts(5, 2, 0, 0), 0, 0, 0, 5);
        Assert.False(stray.Rose);   // 28 %, but two failures on a quiet target

        var usual = FailureRateJudge.Judge(new TransactionCounts(900, 100, 0, 0), 0, 0, baselinePercent: 8, allowedPoints: 5);
        Assert.False(usual.Rose);   // 10 % against a normal 8 %
    }

    [Fact]
    public void The_bots_own_aborted_attempts_are_not_the_applications_failures()
    {
        var reading = FailureRateJudge.Judge(new TransactionCounts(100, 12, 0, null), ownFailures: 12, ownCommits: 0, baselinePercent: 0, allowedPoints: 5);

        Assert.False(reading.Rose);
        Assert.Equal(0, reading.Failures);
        Assert.Contains("12 aborted attempt(s) not counted", reading.Detail);
    }

    [Fact]
    public void The_bots_own_commits_do_not_dilute_the_applications_failures()
    {
        // A quiet maintenance window: 20 application transactions, 10 failing, beside 250 of the bot's probes and samples.
        var reading = FailureRateJudge.Judge(new TransactionCounts(260, 10, 0, null), ownFailures: 0, ownCommits: 250, baselinePercent: 0, allowedPoints: 5);

        Assert.True(reading.Rose);
        Assert.Equal(20, reading.Transactions);
        Assert.Equal(50, reading.Percent);
        Assert.Contains("the bot's own 250 transaction(s)", reading.Detail);
    }

    [Fact]
    public void Counters_subtract_into_a_window()
    {
        var window = new TransactionCounts(150, 20, 3, 4) - new TransactionCounts(100, 10, 1, null);
        Assert.Equal(new TransactionCounts(50, 10, 2, null), window);
    }
}

public class PlanFlipTests
{
    [Fact]
    public void A_new_plan_that_touches_fewer_buffers_is_less_work_whatever_its_time_did()
    {
        var before = new QueryMeasurement("search", [0.20, 0.21, 0.22], 12, "Bitmap Heap Scan[contacts/]()", ["Bitmap Heap Scan on contacts"]);
        var after = new QueryMeasurement("search", [0.60, 0.62, 0.65], 9, "Index Scan[contacts/idx_new]()", ["Index Scan using idx_new on contacts"]);

        var judged = DegradationJudge.JudgeQuery(before, after, 1);

        Assert.False(judged.Regressed);
        Assert.Contains("less work, not a regression", judged.Why);
    }
}
