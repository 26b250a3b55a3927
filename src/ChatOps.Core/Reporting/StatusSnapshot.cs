using ChatOps.Core.Conversation;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Reporting;

/// <summary>When status posts are made: while the run goes on, while it is paused, and after it during post-deployment monitoring.</summary>
public enum StatusStage
{
    Running,
    Paused,
    PostDeploymentMonitoring,
}

/// <summary>
/// Everything a status post shows (issue 14 §2), as the bot knows it at <see cref="Now"/>. Pure data: the bot fills it from the
/// deployment and its <see cref="MonitoringSummary"/>; <see cref="StatusReport.Render"/> turns it into a message.
/// </summary>
/// <param name="Migration">The migration's id (<c>20250803_add_contact_rls</c>).</param>
/// <param name="Phase">The runbook phase running or paused in; null during post-deployment monitoring.</param>
/// <param name="StatementsCompleted">The migration's statements done so far (the "step k" of k/n).</param>
/// <param name="StatementsTotal">The migration's statements (the "n" of k/n); 0 when not known yet.</param>
/// <param name="StartedAt">When execution started: the elapsed time counts from here.</param>
/// <param name="LatestSample">The latest metric sample, or null when none arrived yet.</param>
/// <param name="LatestGap">The latest failed sample, or null; it is the current state only when it is newer than <paramref name="LatestSample"/>.</param>
/// <param name="BenchmarkDeltaPercent">The latest benchmark round against the baseline (positive is slower); null when none ran yet.</param>
/// <param name="RlsOverheadMs">The latest RLS overhead probe; null when none ran yet.</param>
/// <param name="Rules">The runbook's threshold rules: each metric that has one is marked against it.</param>
/// <param name="Breaching">The rules breached now (fired and not cleared).</param>
public sealed record StatusSnapshot(
    DeploymentId Deployment,
    string Migration,
    StatusStage Stage,
    RunbookPhase? Phase,
    int StatementsCompleted,
    int StatementsTotal,
    DateTimeOffset StartedAt,
    DateTimeOffset Now,
    MetricSample? LatestSample,
    SampleGap? LatestGap,
    double? BenchmarkDeltaPercent,
    double? RlsOverheadMs,
    IReadOnlyList<ThresholdRule> Rules,
    IReadOnlyList<ThresholdBreached> Breaching)
{
    /// <summary>Post-deployment monitoring: when it started (phase 4 finished).</summary>
    public DateTimeOffset? MonitoringStartedAt { get; init; }

    /// <summary>Post-deployment monitoring: when it ends and the performance report is due.</summary>
    public DateTimeOffset? MonitoringEndsAt { get; init; }

    /// <summary>When the next status post is due (<see cref="StatusCadence.NextDue"/>); null when none is (the report is next).</summary>
    public DateTimeOffset? NextStatusAt { get; init; }

    /// <summary>
    /// A sample older than this is not shown as the current state: the post says "no sample since …" instead. Default 15 s: three
    /// of the sampler's 5 s intervals, the gap after which <see cref="ThresholdMonitor"/> reports monitoring degraded.
    /// </summary>
    public TimeSpan SampleStaleAfter { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The latest sample when it is current: not older than <see cref="SampleStaleAfter"/> and not followed by a failed sample.</summary>
    public MetricSample? CurrentSample =>
        LatestSample is { } sample && Now - sample.At <= SampleStaleAfter && (LatestGap is null || LatestGap.At <= sample.At) ? sample : null;
}
