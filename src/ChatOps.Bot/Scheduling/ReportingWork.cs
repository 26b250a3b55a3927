using ChatOps.Bot.Conversation;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Scheduling;

/// <summary>
/// The time-driven part of reporting as scheduled jobs (issue 13 §3, issue 14 §2 and §4), so it fires on exactly one replica of the
/// cluster — whichever is up when it is due, not only the one running the deployment:
/// <list type="bullet">
/// <item><b>Status</b>: the status post, from what the state database holds (the run's record is stored as it goes); each one schedules
/// the next on the cadence, until the deployment is over or only the report is left.</item>
/// <item><b>Monitoring ends</b>: at the end of post-deployment monitoring, the performance report and Completed.</item>
/// </list>
/// The replica owning a deployment makes sure both are scheduled (<see cref="EnsureAsync"/>) each time it looks at it; the sampling and
/// the rollback triggers stay with that owner, which holds the sessions on the target. A job that fails is tried again a little later.
/// </summary>
public sealed class ReportingWork(
    DeploymentStore store,
    DeploymentReporter reporter,
    Targets targets,
    IDeploymentSchedule schedule,
    TimeProvider time,
    ILogger<ReportingWork> logger)
{
    /// <summary>When a job failed (the state database or the target away for a moment), it fires again this much later.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(30);

    // Quartz may fire a trigger a few milliseconds before its time: a post due within this is due now (never a second post: the next
    // one is scheduled from this one's time).
    private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(500);

    private DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Schedules what the deployment's state calls for: its next status post, the end of its monitoring (when not scheduled yet).</summary>
    public async Task EnsureAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        if (await store.LoadAsync(id, cancellationToken) is not { IsActive: true } deployment)
            return;
        // The status job at the slot the state calls for now (monitoring has a cadence of its own); a job firing meanwhile is harmless: a
        // post happens only when one is due by the last post's time, under the deployment's lock.
        if (await reporter.StatusDueAsync(deployment, cancellationToken) is { } due && await schedule.DueAsync(DeploymentJobKind.Status, id, cancellationToken) != due)
            await schedule.ScheduleAsync(DeploymentJobKind.Status, id, due, cancellationToken);
        if (deployment.State == DeploymentState.Monitoring && await store.MonitoringUntilAsync(id, cancellationToken) is { } until
            && await schedule.DueAsync(DeploymentJobKind.MonitoringEnds, id, cancellationToken) is null)
            await schedule.ScheduleAsync(DeploymentJobKind.MonitoringEnds, id, until, cancellationToken);
    }

    /// <summary>One due job of <paramref name="kind"/> (<see cref="DeploymentJobKind.Status"/> or <see cref="DeploymentJobKind.MonitoringEnds"/>).</summary>
    public async Task RunAsync(DeploymentJobKind kind, DeploymentId id, CancellationToken cancellationToken)
    {
        try
        {
            await (kind switch
            {
                DeploymentJobKind.Status => StatusAsync(id, cancellationToken),
                DeploymentJobKind.MonitoringEnds => MonitoringEndsAsync(id, cancellationToken),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a reporting job"),
            });
        }
        catch (Exception ex) when (ex is not ArgumentOutOfRangeException && !cancellationToken.IsCancellationRequested)
        {
            // Not dropped: a status post or a report lost to a moment's outage would be silence at 2 AM.
            logger.LogError(ex, "{Deployment}: the {Kind} job failed; it fires again in {Retry}", id, kind, RetryAfter);
            await schedule.ScheduleAsync(kind, id, Now + RetryAfter, CancellationToken.None);
        }
    }

    private async Task StatusAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        DateTimeOffset? next;
        await using (var scope = await store.BeginAsync(cancellationToken))
        {
            // One status job at a time per deployment, deciding on the last post's time as committed: never two posts for one slot.
            await WindowWork.HoldAsync(scope, id, cancellationToken);
            if (await store.LoadAsync(id, cancellationToken) is not { IsActive: true } deployment)
                return;
            var due = await reporter.StatusDueAsync(deployment, cancellationToken, scope);
            if (due is { } at && at <= Now + Early)
            {
                await reporter.PostStatusAsync(scope, deployment, cancellationToken, slot: at);
                logger.LogInformation("{Deployment}: status posted (due {Due:O})", id, at);
                next = await reporter.StatusDueAsync(deployment, cancellationToken, scope);
            }
            else
                next = due;   // fired early, or the cadence changed (monitoring started): the next slot
            await scope.CommitAsync(cancellationToken);
        }
        // Null: nothing more to post now (paused by a state with no status, or the report is next); the owner schedules again on a change.
        if (next is { } then)
            await schedule.ScheduleAsync(DeploymentJobKind.Status, id, then, cancellationToken);
    }

    private async Task MonitoringEndsAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        if (await store.LoadAsync(id, cancellationToken) is not { State: DeploymentState.Monitoring } deployment
            || await store.MonitoringUntilAsync(id, cancellationToken) is not { } until)
            return;   // rolled back meanwhile, or ended already
        if (until > Now + Early)
        {
            await schedule.ScheduleAsync(DeploymentJobKind.MonitoringEnds, id, until, cancellationToken);   // moved later meanwhile
            return;
        }
        await reporter.FinishMonitoringAsync(id, targets.ConnectionStringOf(deployment), cancellationToken);
    }
}
