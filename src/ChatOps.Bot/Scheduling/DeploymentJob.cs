using System.Globalization;
using ChatOps.Core.Conversation;
using Quartz;

namespace ChatOps.Bot.Scheduling;

/// <summary>The one Quartz job: reads which kind and which deployment from its data and calls back into the bot.</summary>
internal sealed class DeploymentJob(ScheduledWorkRelay relay, ILogger<DeploymentJob> logger) : IJob
{
    public const string KindKey = "kind";
    public const string DeploymentKey = "deployment";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var data = context.MergedJobDataMap;
        var kind = Enum.Parse<DeploymentJobKind>(Text(data, KindKey));
        var deployment = new DeploymentId(int.Parse(Text(data, DeploymentKey), NumberStyles.None, CultureInfo.InvariantCulture));
        var due = context.ScheduledFireTimeUtc ?? context.FireTimeUtc;
        logger.LogInformation("{Kind} job for {Deployment} fires (due {Due:O}) on {Instance}", kind, deployment, due, context.Scheduler.SchedulerInstanceId);
        await relay.Work.RunAsync(kind, deployment, due, cancellationToken);
    }

    private static string Text(JobDataMap data, string key) =>
        data.TryGetValue(key, out var value) && value?.ToString() is { Length: > 0 } text
            ? text
            : throw new InvalidOperationException($"a {nameof(DeploymentJob)} without its '{key}': it was not scheduled by {nameof(QuartzDeploymentSchedule)}");
}

/// <summary>Where the job finds the bot: set when the scheduler starts (the scheduler is built before the bot it calls back).</summary>
internal sealed class ScheduledWorkRelay
{
    private IScheduledWork? _work;

    public IScheduledWork Work
    {
        get => Volatile.Read(ref _work) ?? throw new InvalidOperationException("the scheduler fired before the bot's work was set");
        set => Volatile.Write(ref _work, value);
    }
}
