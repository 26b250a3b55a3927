using ChatOps.Core.Reporting;

namespace ChatOps.Core.Tests;

public class StatusCadenceTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 28, 2, 30, 0, TimeSpan.Zero);
    private static readonly StatusCadence Defaults = new();

    private static List<DateTimeOffset> PostsOverTheWholePeriod(StatusCadence cadence)
    {
        var posts = new List<DateTimeOffset>();
        var last = Start;
        while (cadence.NextDue(StatusStage.PostDeploymentMonitoring, last, Start) is { } next)
        {
            Assert.True(posts.Count < 1000, "the cadence never ends");
            posts.Add(next);
            last = next;
        }
        return posts;
    }

    [Fact]
    public void Defaults_post_8_times_in_the_first_2h_then_21_times_hourly_because_the_report_replaces_the_post_at_24h()
    {
        var posts = PostsOverTheWholePeriod(Defaults);

        var immediate = posts.Where(p => p <= Start.AddHours(2)).ToList();
        var hourly = posts.Where(p => p > Start.AddHours(2)).ToList();
        Assert.Equal(Enumerable.Range(1, 8).Select(k => Start.AddMinutes(15 * k)), immediate);      // 0:15 … 2:00
        Assert.Equal(Enumerable.Range(3, 21).Select(h => Start.AddHours(h)), hourly);               // 3:00 … 23:00
        Assert.Equal(29, posts.Count);
        Assert.Equal(Start.AddHours(24), Defaults.ReportDue(Start));
        Assert.True(posts[^1] < Defaults.ReportDue(Start));
    }

    [Fact]
    public void Hourly_posts_count_from_the_end_of_the_immediate_period_even_when_it_is_not_on_an_interval()
    {
        var cadence = new StatusCadence { Interval = TimeSpan.FromMinutes(25), Immediate = TimeSpan.FromMinutes(90), Extended = TimeSpan.FromHours(4) };

        var posts = PostsOverTheWholePeriod(cadence).Select(p => (p - Start).TotalMinutes);

        // 25, 50, 75 (100 would be past 90); then 90+60, 90+120 (90+180 = 270 is past 240, the report).
        Assert.Equal([25, 50, 75, 150, 210], posts);
    }

    [Theory]
    [InlineData(-30, 15)]     // the last post was during the run: the first monitoring post is one interval in
    [InlineData(0, 15)]
    [InlineData(17, 30)]      // a late post does not shift the slots after it
    [InlineData(119, 120)]
    [InlineData(120, 180)]    // the last immediate slot is followed by the first hourly one
    [InlineData(130, 180)]
    [InlineData(22 * 60 + 59, 23 * 60)]
    public void The_next_post_is_the_first_slot_after_the_last_post(int lastPostMinutes, int expectedMinutes)
    {
        Assert.Equal(Start.AddMinutes(expectedMinutes), Defaults.NextDue(StatusStage.PostDeploymentMonitoring, Start.AddMinutes(lastPostMinutes), Start));
    }

    [Theory]
    [InlineData(23 * 60)]
    [InlineData(24 * 60)]
    [InlineData(30 * 60)]
    public void After_the_last_hourly_slot_no_status_is_due_the_report_is(int lastPostMinutes)
    {
        Assert.Null(Defaults.NextDue(StatusStage.PostDeploymentMonitoring, Start.AddMinutes(lastPostMinutes), Start));
    }

    [Theory]
    [InlineData(StatusStage.Running)]
    [InlineData(StatusStage.Paused)]
    public void While_running_or_paused_a_post_is_due_one_interval_after_the_last(StatusStage stage)
    {
        var cadence = new StatusCadence { Interval = TimeSpan.FromMinutes(10) };

        Assert.Equal(Start.AddMinutes(17), cadence.NextDue(stage, Start.AddMinutes(7)));
    }

    [Fact]
    public void Post_deployment_monitoring_without_its_start_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Defaults.NextDue(StatusStage.PostDeploymentMonitoring, Start));
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        Assert.Empty(Defaults.Problems());
        Assert.Equal(TimeSpan.FromMinutes(15), Defaults.Interval);
        Assert.Equal(TimeSpan.FromHours(2), Defaults.Immediate);
        Assert.Equal(TimeSpan.FromHours(24), Defaults.Extended);
    }

    [Fact]
    public void Every_problem_is_reported_at_once_with_its_key_and_how_to_fix_it()
    {
        var cadence = new StatusCadence { Interval = TimeSpan.Zero, Immediate = TimeSpan.FromHours(3), Extended = TimeSpan.FromHours(2) };

        Assert.Equal(
            [
                "ChatOps:Status:Interval is 00:00:00: it must be a positive duration, e.g. \"00:15:00\"",
                "ChatOps:PostDeployment:Immediate (3h00m) is longer than ChatOps:PostDeployment:Extended (2h00m): the immediate period is the start " +
                "of the extended one; set Immediate ≤ Extended (defaults \"02:00:00\" and \"1.00:00:00\")",
            ],
            cadence.Problems());
    }

    [Fact]
    public void Negative_spans_are_problems()
    {
        var cadence = new StatusCadence { Immediate = TimeSpan.FromHours(-1), Extended = TimeSpan.FromHours(-2) };

        var problems = cadence.Problems();

        Assert.Contains(problems, p => p.StartsWith("ChatOps:PostDeployment:Immediate is -01:00:00: it must be a positive duration", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("ChatOps:PostDeployment:Extended is -02:00:00: it must be a positive duration", StringComparison.Ordinal));
    }

    [Fact]
    public void Twenty_four_hours_written_as_24_00_00_reads_as_24_days_and_is_flagged()
    {
        // What configuration binding does with the text: TimeSpan's parser, invariant culture.
        var extended = TimeSpan.Parse("24:00:00", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromDays(24), extended);

        var problem = Assert.Single(new StatusCadence { Extended = extended }.Problems());
        Assert.Equal("ChatOps:PostDeployment:Extended is 24 days (\"24:00:00\" reads as days:hours:minutes): for 24 hours write \"1.00:00:00\"", problem);
    }

    [Fact]
    public void The_post_deployment_cadence_in_words_says_what_the_posts_do_including_the_hourly_phase()
    {
        Assert.Equal("status every 15m for 2h, then hourly until 24h", Defaults.PostDeploymentInWords());
        // The demo's compressed clock: no hour fits before the report, so no hourly post comes (PostsOverTheWholePeriod agrees).
        var demo = new StatusCadence { Interval = TimeSpan.FromSeconds(10), Immediate = TimeSpan.FromSeconds(30), Extended = TimeSpan.FromMinutes(1) };
        Assert.Equal("status every 10 s for 30 s, then none until the report at 1m", demo.PostDeploymentInWords());
        Assert.Equal(3, PostsOverTheWholePeriod(demo).Count);
        var flat = new StatusCadence { Interval = TimeSpan.FromMinutes(5), Immediate = TimeSpan.FromHours(1), Extended = TimeSpan.FromHours(1) };
        Assert.Equal("status every 5m for 1h", flat.PostDeploymentInWords());
    }
}
