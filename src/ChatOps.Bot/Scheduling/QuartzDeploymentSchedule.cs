using System.Globalization;
using ChatOps.Core.Conversation;
using ChatOps.Postgres;
using Quartz;

namespace ChatOps.Bot.Scheduling;

/// <summary>
/// Quartz.NET on the state database (issue 13 §3): a persistent store in <c>chatops_state</c> (tables <c>qrtz_*</c>, created by
/// Quartz's own <c>ProvisionSchema</c> at start-up), clustered — each process is a node with an id of its own, a due job fires on
/// exactly one node, and a node that dies has its jobs taken over — with the System.Text.Json serializer. A job that was due while
/// no node ran fires as soon as one starts (misfire: fire now).
/// </summary>
/// <remarks>
/// Built standalone (<see cref="QuartzSchedulerBuilder"/>): each one has a container of its own, and with it its own scheduler
/// repository, so several bots in one test process may each hold a scheduler under the one cluster-wide name
/// (<see cref="SchedulerName"/>) without meeting. Nodes of one cluster must share that name: it scopes every row.
/// </remarks>
public sealed class QuartzDeploymentSchedule : IDeploymentSchedule, IAsyncDisposable
{
    /// <summary>The cluster's name: every replica on one state database uses it.</summary>
    public const string SchedulerName = "chatops";

    /// <summary>Quartz's tables live beside the bot's own, in the state schema.</summary>
    public const string TablePrefix = "chatops_state.qrtz_";

    private const string Group = "chatops-deployments";

    /// <summary>How many jobs run at once on one node: the deployments it drives, plus status posts, window starts and reminders.</summary>
    public const int MaxConcurrentJobs = 64;

    private readonly StandaloneSchedulerFactory _factory;
    private readonly IScheduler _scheduler;
    private readonly ScheduledWorkRelay _relay;
    private readonly TimeProvider _time;

    private QuartzDeploymentSchedule(StandaloneSchedulerFactory factory, IScheduler scheduler, ScheduledWorkRelay relay, TimeProvider time)
    {
        _factory = factory;
        _scheduler = scheduler;
        _relay = relay;
        _time = time;
    }

    /// <summary>This node's id in the cluster (generated at start-up).</summary>
    public string InstanceId => _scheduler.SchedulerInstanceId;

    /// <summary>
    /// Builds the scheduler on the state database (the state schema must exist: <c>StateDatabase.MigrateAsync</c> first) and creates
    /// Quartz's tables when they are missing. Nothing fires until <see cref="StartAsync"/>; jobs may be scheduled before.
    /// </summary>
    /// <param name="checkinInterval">How often this node says it is alive (and how late one may be before another takes its jobs
    /// over); Quartz's default when null. Tests shorten it.</param>
    /// <param name="misfireThreshold">How late a job may fire before it counts as missed and its "fire now" applies; Quartz's default
    /// (a minute) when null. Either way a job due while no node ran fires as soon as one starts.</param>
    public static async Task<QuartzDeploymentSchedule> CreateAsync(string stateConnectionString, TimeProvider time, ILoggerFactory logging,
        CancellationToken cancellationToken, TimeSpan? checkinInterval = null, TimeSpan? misfireThreshold = null)
    {
        var relay = new ScheduledWorkRelay(logging.CreateLogger<DeploymentJob>());
        var factory = QuartzSchedulerBuilder.Create(q =>
        {
            q.Services.AddSingleton(logging);
            q.Services.AddSingleton(relay);
            q.Services.AddTransient<DeploymentJob>();
            q.UseTimeProvider(time);
            q.ConfigureScheduler(s => s.InstanceName = SchedulerName);
            // A run job lasts as long as its deployment is held on this node (hours, awaiting, no thread held): room for many at once,
            // and for the short jobs beside them.
            q.UseDefaultThreadPool(maxConcurrency: MaxConcurrentJobs);
            q.UsePersistentStore(store =>
            {
                // Positional parameters: this process runs Npgsql without SQL rewriting (see PositionalNpgsqlFactory).
                store.UsePostgres(PositionalNpgsqlFactory.Instance, ConnectionStrings.WithApplicationName(stateConnectionString, "chatops:quartz"));
                store.UseSystemTextJsonSerializer();
                store.UseClustering(c =>
                {
                    if (checkinInterval is { } interval)
                    {
                        c.CheckinInterval = interval;
                        c.CheckinMisfireThreshold = interval;
                    }
                });
                store.ConfigureStore(s =>
                {
                    s.TablePrefix = TablePrefix;
                    if (misfireThreshold is { } threshold)
                        s.MisfireThreshold = threshold;
                });
                store.ProvisionSchema();
            });
        }).Build();
        try
        {
            var scheduler = await factory.GetScheduler(cancellationToken);
            return new QuartzDeploymentSchedule(factory, scheduler, relay, time);
        }
        catch
        {
            await factory.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts firing: each due job calls <paramref name="work"/>; jobs missed while no node ran fire now.</summary>
    /// <remarks>A scheduler stopped (<see cref="StopAsync"/>) cannot start again: build a new one.</remarks>
    public async Task StartAsync(IScheduledWork work, CancellationToken cancellationToken)
    {
        _relay.Work = work;
        await _scheduler.Start(cancellationToken);
    }

    /// <summary>Stops firing (a job running now finishes first); this node's jobs stay in the store for the other nodes.</summary>
    public async Task StopAsync()
    {
        if (_scheduler.Status is not (SchedulerStatus.Shutdown or SchedulerStatus.ShuttingDown))
            await _scheduler.Shutdown(waitForJobsToComplete: true, CancellationToken.None);
    }

    public Task ScheduleAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset at, CancellationToken cancellationToken) =>
        ScheduleAsync(kind, deployment, (DateTimeOffset?)at, cancellationToken);

    public Task ScheduleNowAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken) =>
        ScheduleAsync(kind, deployment, null, cancellationToken);

    private async Task ScheduleAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        var job = JobBuilder.Create<DeploymentJob>()
            .WithIdentity(JobKeyOf(kind, deployment))
            .UsingJobData(DeploymentJob.KindKey, kind.ToString())
            .UsingJobData(DeploymentJob.DeploymentKey, deployment.Number.ToString(CultureInfo.InvariantCulture))
            // A node that dies while the job runs: another runs it again (the work checks what is left to do).
            .RequestRecovery()
            .Build();
        var trigger = TriggerBuilder.Create(_time)
            .WithIdentity(TriggerKeyOf(kind, deployment))
            .ForJob(job)
            .StartAt(at ?? _time.GetUtcNow())
            .WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();
        // One store operation under the store's lock: the same kind for the same deployment replaces the one there was.
        await _scheduler.ScheduleJob(job, trigger, ScheduleJobOptions.Replacing, cancellationToken);
    }

    public async Task<bool> CancelAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken) =>
        await _scheduler.DeleteJob(JobKeyOf(kind, deployment), cancellationToken);

    // A job is kept while its one trigger fires (a job without triggers goes once it has run).
    public async Task<bool> ExistsAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken) =>
        await _scheduler.GetJobDetail(JobKeyOf(kind, deployment), cancellationToken) is not null;

    public async Task<DateTimeOffset?> DueAsync(DeploymentJobKind kind, DeploymentId deployment, CancellationToken cancellationToken) =>
        await _scheduler.GetTrigger(TriggerKeyOf(kind, deployment), cancellationToken) is { } trigger ? trigger.NextFireTimeUtc : null;

    private static JobKey JobKeyOf(DeploymentJobKind kind, DeploymentId deployment) => new($"{kind}-{deployment.Number}", Group);

    private static TriggerKey TriggerKeyOf(DeploymentJobKind kind, DeploymentId deployment) => new($"{kind}-{deployment.Number}", Group);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _factory.DisposeAsync();
    }
}
