using ChatOps.Bot.Conversation;
using ChatOps.Core.Reporting;
using Microsoft.Extensions.Configuration;

namespace ChatOps.Bot.Tests;

/// <summary><c>ChatOps:Status</c>, <c>ChatOps:PostDeployment</c> and <c>ChatOps:Thresholds</c> as <c>serve</c> reads them.</summary>
public class ReportingSettingsTests
{
    private static (ReportingPolicy? Policy, IReadOnlyList<string> Problems) Read(params (string Key, string Value)[] values) =>
        ReportingSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void Nothing_set_gives_the_issue_s_defaults()
    {
        var (policy, problems) = Read();

        Assert.Empty(problems);
        Assert.Equal(TimeSpan.FromMinutes(15), policy!.Cadence.Interval);
        Assert.Equal(TimeSpan.FromHours(2), policy.Cadence.Immediate);
        Assert.Equal(TimeSpan.FromHours(24), policy.Cadence.Extended);
        Assert.Equal(BreachPolicy.Ask, policy.OnBreach);
        Assert.Equal(TimeSpan.FromMinutes(5), policy.AskTimeout);
        Assert.True(policy.MonitorsAfterDeployment);
    }

    [Fact]
    public void Twenty_four_hours_written_as_the_issue_writes_it_is_a_day_not_twenty_four_days()
    {
        var (policy, problems) = Read(("ChatOps:PostDeployment:Extended", "24:00:00"), ("ChatOps:PostDeployment:Immediate", "02:00:00"));

        Assert.Empty(problems);
        Assert.Equal(TimeSpan.FromDays(1), policy!.Cadence.Extended);
        Assert.Equal(TimeSpan.FromDays(1), Read(("ChatOps:PostDeployment:Extended", "1.00:00:00")).Policy!.Cadence.Extended);
    }

    [Fact]
    public void Zero_extended_means_no_post_deployment_monitoring_and_zero_ask_timeout_waits_for_a_person()
    {
        var (policy, problems) = Read(("ChatOps:PostDeployment:Extended", "00:00:00"), ("ChatOps:Thresholds:AskTimeout", "00:00:00"),
            ("ChatOps:Thresholds:OnBreach", "rollback"));

        Assert.Empty(problems);
        Assert.False(policy!.MonitorsAfterDeployment);
        Assert.Equal(TimeSpan.Zero, policy.AskTimeout);
        Assert.Equal(BreachPolicy.Rollback, policy.OnBreach);
    }

    [Fact]
    public void A_shorter_extended_alone_shortens_the_period_but_both_set_the_wrong_way_round_is_refused()
    {
        Assert.Equal(TimeSpan.FromMinutes(1), Read(("ChatOps:PostDeployment:Extended", "00:01:00")).Policy!.Cadence.Immediate);

        var (policy, problems) = Read(("ChatOps:PostDeployment:Extended", "00:01:00"), ("ChatOps:PostDeployment:Immediate", "00:05:00"));

        Assert.Null(policy);
        Assert.Contains(problems, p => p.Contains("make Immediate the shorter one", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_bad_value_is_listed_with_how_to_fix_it()
    {
        var (policy, problems) = Read(("ChatOps:Status:Interval", "0"), ("ChatOps:PostDeployment:Extended", "soon"),
            ("ChatOps:Thresholds:AskTimeout", "-00:01:00"), ("ChatOps:Thresholds:OnBreach", "rolback"));

        Assert.Null(policy);
        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Status:Interval is '0': it must be more than zero", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("ChatOps:PostDeployment:Extended is 'soon', not a duration: write hh:mm:ss", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("ChatOps:Thresholds:AskTimeout is '-00:01:00': it must be zero or more", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("rolback", StringComparison.Ordinal) && p.Contains("rollback", StringComparison.Ordinal));
    }
}
