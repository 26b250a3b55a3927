using ChatOps.Bot.Conversation;
using ChatOps.Core.Conversation;

namespace ChatOps.Bot.Scheduling;

/// <summary>Every kind of job, each to the work that does it.</summary>
public sealed class DeploymentWork(WindowWork windows, ReportingWork? reporting, DeploymentOwner owner) : IScheduledWork
{
    public Task RunAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset scheduledFor, CancellationToken cancellationToken) => kind switch
    {
        DeploymentJobKind.Run => owner.RunJobAsync(deployment, cancellationToken),
        DeploymentJobKind.WindowStart or DeploymentJobKind.Reminder => windows.RunAsync(kind, deployment, scheduledFor, cancellationToken),
        DeploymentJobKind.Status or DeploymentJobKind.MonitoringEnds when reporting is not null => reporting.RunAsync(kind, deployment, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no work for this kind of job on this replica"),
    };
}
