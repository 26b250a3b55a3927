using System.Globalization;
using ChatOps.Core.Conversation;
using Quartz;

namespace ChatOps.Bot.Scheduling;

/// <summary>The one Quartz job: reads which kind and which deployment from its data and calls back into the bot.</summary>
internal sealed class DeploymentJob(ScheduledWorkRelay relay) : IJob
{
    public const string KindKey = "kind";
    public const string DeploymentKey = "deployment";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var data = context.MergedJobDataMap;
        var kind = Enum.Parse<DeploymentJobKind>(Text(data, KindKey));
        var deployment = new DeploymentId(int.Parse(Text(data, DeploymentKey), NumberStyles.None, CultureInfo.InvariantCulture));
        var due = context.ScheduledFireTimeUtc ?? context.FireTimeUtc;
        var logger = relay.Logger;
        if (context.Recovering)
            logger.LogWarning("{Kind} job for {Deployment} fires again on {Instance}: the replica running it stopped checking in", kind, deployment,
                context.Scheduler.SchedulerInstanceId);
        else
            logger.LogInformation("{Kind} job for {Deployment} fires (due {Due:O}) on {Instance}", kind, deployment, due, context.Scheduler.SchedulerInstanceId);
        await relay.Work.RunAsync(kind, deployment, due, cancellationToken);
    }

    private static string Text(JobDataMap data, string key) =>
        data.TryGetValue(key, out var value) && value?.ToString() is { Length: > 0 } text
            ? text
            : throw new InvalidOperationException($"a {nameof(DeploymentJob)} without its '{key}': it was not scheduled by {nameof(QuartzDeploymentSchedule)}");
}

/// <summary>Where the job finds the bot: set when the scheduler starts (the scheduler is built before the bot it calls back).</summary>
/// <param name="logger">The bot's own logger for the jobs: the scheduler's container has a logging set-up of its own, which goes nowhere.</param>
internal sealed class ScheduledWorkRelay(ILogger logger)
{
    public ILogger Logger => logger;

    private IScheduledWork? _work;

    public IScheduledWork Work
    {
        get => Volatile.Read(ref _work) ?? throw new InvalidOperationException("the scheduler fired before the bot's work was set");
        set => Volatile.Write(ref _work, value);
    }
}
