using ChatOps.Core.Execution;

namespace ChatOps.Core.Reporting;

/// <summary>
/// When status posts are due (issue 14 §2, §4). While the run goes on or is paused: every <see cref="Interval"/> after the last
/// post. After phase 4, during post-deployment monitoring: every <see cref="Interval"/> from the monitoring's start until
/// <see cref="Immediate"/> has passed, then every hour until <see cref="Extended"/> has passed, when the performance report
/// replaces the status post. Post-deployment slots are counted from the monitoring's start, so a late post does not shift
/// the ones after it.
/// </summary>
/// <remarks>
/// The three spans come from two configuration sections: <see cref="Interval"/> from <c>ChatOps:Status:Interval</c>,
/// <see cref="Immediate"/> and <see cref="Extended"/> from <c>ChatOps:PostDeployment</c>. Note that a <see cref="TimeSpan"/> in
/// configuration reads <c>24:00:00</c> as 24 days; one day is <c>1.00:00:00</c>.
/// </remarks>
public sealed record StatusCadence
{
    /// <summary><c>ChatOps:Status:Interval</c>, default 15 minutes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary><c>ChatOps:PostDeployment:Immediate</c>, default 2 hours: how long after phase 4 status is posted every <see cref="Interval"/>.</summary>
    public TimeSpan Immediate { get; init; } = TimeSpan.FromHours(2);

    /// <summary><c>ChatOps:PostDeployment:Extended</c>, default 24 hours: how long after phase 4 monitoring goes on; then the performance report.</summary>
    public TimeSpan Extended { get; init; } = TimeSpan.FromHours(24);

    /// <summary>The cadence after <see cref="Immediate"/>.</summary>
    public static TimeSpan Hourly { get; } = TimeSpan.FromHours(1);

    /// <summary>
    /// When the next status post is due after one posted at <paramref name="lastPost"/> (or, before the first, the time the stage
    /// began). Null during post-deployment monitoring once no status slot is left: the performance report is due at
    /// <see cref="ReportDue"/>. A post overdue (the bot was down) comes out in the past: post it now, then ask again.
    /// </summary>
    /// <param name="monitoringStart">When post-deployment monitoring started; required for <see cref="StatusStage.PostDeploymentMonitoring"/>.</param>
    public DateTimeOffset? NextDue(StatusStage stage, DateTimeOffset lastPost, DateTimeOffset? monitoringStart = null)
    {
        if (stage != StatusStage.PostDeploymentMonitoring)
            return lastPost + Interval;
        if (monitoringStart is not { } start)
            throw new ArgumentException("post-deployment monitoring needs the time it started", nameof(monitoringStart));

        var immediateEnd = start + Immediate;
        if (lastPost < immediateEnd)
        {
            // The first slot of the form start + k·Interval after the last post.
            var k = lastPost < start ? 1 : (lastPost - start).Ticks / Interval.Ticks + 1;
            var slot = start + k * Interval;
            if (slot <= immediateEnd)
                return slot;
        }
        var reportDue = ReportDue(start);
        var after = lastPost < immediateEnd ? 1 : (lastPost - immediateEnd).Ticks / Hourly.Ticks + 1;
        var hourly = immediateEnd + after * Hourly;
        // The report comes at the end of the extended period in place of a status post.
        return hourly < reportDue ? hourly : null;
    }

    /// <summary>
    /// The post-deployment cadence in words, as <see cref="NextDue"/> keeps it: <c>status every 15m for 2h, then hourly until 24h</c>. An
    /// hourly post falls only where an hour fits before the report, so a short extended period says none comes.
    /// </summary>
    public string PostDeploymentInWords()
    {
        var every = $"status every {ReportText.Span(Interval)}";
        if (Immediate >= Extended)
            return $"{every} for {ReportText.Span(Extended)}";
        return Extended - Immediate <= Hourly
            ? $"{every} for {ReportText.Span(Immediate)}, then none until the report at {ReportText.Span(Extended)}"
            : $"{every} for {ReportText.Span(Immediate)}, then hourly until {ReportText.Span(Extended)}";
    }

    /// <summary>When the performance report is due: <see cref="Extended"/> after post-deployment monitoring started.</summary>
    public DateTimeOffset ReportDue(DateTimeOffset monitoringStart) => monitoringStart + Extended;

    /// <summary>Every problem with these settings, each saying how to fix it; empty when they are usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        NotPositive(Interval, "ChatOps:Status:Interval", "00:15:00");
        NotPositive(Immediate, "ChatOps:PostDeployment:Immediate", "02:00:00");
        NotPositive(Extended, "ChatOps:PostDeployment:Extended", "1.00:00:00");
        if (Immediate > Extended)
            problems.Add($"ChatOps:PostDeployment:Immediate ({Durations.Short(Immediate)}) is longer than ChatOps:PostDeployment:Extended " +
                         $"({Durations.Short(Extended)}): the immediate period is the start of the extended one; set Immediate ≤ Extended " +
                         "(defaults \"02:00:00\" and \"1.00:00:00\")");
        // The issue writes the default as 24:00:00, which TimeSpan reads as 24 days: almost certainly not what was meant.
        if (Extended == TimeSpan.FromDays(24))
            problems.Add("ChatOps:PostDeployment:Extended is 24 days (\"24:00:00\" reads as days:hours:minutes): for 24 hours write \"1.00:00:00\"");
        return problems;

        void NotPositive(TimeSpan value, string key, string example)
        {
            if (value <= TimeSpan.Zero)
                problems.Add($"{key} is {value}: it must be a positive duration, e.g. \"{example}\"");
        }
    }
}
