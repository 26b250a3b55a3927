using ChatOps.Core.Conversation;

namespace ChatOps.Bot.Scheduling;

/// <summary>What a scheduled job is for: one of each kind per deployment at most.</summary>
public enum DeploymentJobKind
{
    /// <summary>The deployment's maintenance window opens: run it if approved and its checks pass, otherwise postpone it.</summary>
    WindowStart,

    /// <summary>The 24-hour notice: the four roles are reminded of the scheduled time.</summary>
    Reminder,

    /// <summary>
    /// A deployment nobody holds needs a replica to drive it (approved, running, paused, monitored, rolling back): the job takes its
    /// owner lock and runs its phases, sampling and rollback triggers for as long as the replica holds it (recovered on another replica
    /// when this one dies).
    /// </summary>
    Run,

    /// <summary>The next status post is due (running, paused, post-deployment monitoring); each one schedules the next.</summary>
    Status,

    /// <summary>Post-deployment monitoring is over: the performance report, the lessons-learned prompt, Completed.</summary>
    MonitoringEnds,
}

/// <summary>What a job does when it fires: the bot's side of the scheduler (one method, as Quartz's own <c>IJob</c>).</summary>
public interface IScheduledWork
{
    /// <param name="scheduledFor">When the job was due (it may fire later: after a restart, a job due while no replica ran fires at once).</param>
    Task RunAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset scheduledFor, CancellationToken cancellationToken);
}

/// <summary>
/// Jobs per deployment, kept in the state database so they survive restarts and fire on exactly one replica. Scheduling a kind
/// for a deployment again replaces the one there was; cancelling one that is not there does nothing.
/// </summary>
public interface IDeploymentSchedule
{
    /// <summary>Starts firing on this replica: each due job calls <paramref name="work"/>. Jobs may be scheduled before.</summary>
    Task StartAsync(IScheduledWork work, CancellationToken cancellationToken);

    /// <summary>Stops firing here (a job running now finishes first); the jobs stay for the other replicas and the next start.</summary>
    Task StopAsync();

    Task ScheduleAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>As <see cref="ScheduleAsync"/>, due at once by the scheduler's own clock.</summary>
    Task ScheduleNowAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken);

    /// <summary>True when there was a job to cancel.</summary>
    Task<bool> CancelAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken);

    /// <summary>Whether the job is there: scheduled, or firing now on some replica (until it ends).</summary>
    Task<bool> ExistsAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken);

    /// <summary>When the job is due, or null when there is none (fired already, cancelled, never scheduled).</summary>
    Task<DateTimeOffset?> DueAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken);
}
