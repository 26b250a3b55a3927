using ChatOps.Bot.Hosting;
using ChatOps.Bot.Scheduling;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Scheduling;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>What the bot needs besides its platforms: where migrations are, where they go, who signs, how the engine runs.</summary>
public sealed record BotParts(
    StateConnections State,
    MigrationCatalog Catalog,
    Targets Targets,
    RoleHolders Roles,
    SignOffPolicy Approvals,
    DeploymentPermissions Permissions,
    ExecutionOptions Execution,
    MonitoringOptions Monitoring,
    TimeProvider Time,
    ILoggerFactory Logging,
    ReportingPolicy? Reporting = null,
    MaintenanceWindow? Window = null,
    TimeSpan? SignOffWatchInterval = null);

/// <summary>
/// One replica of the bot: the inbox handler, a conductor and an outbox dispatcher per platform, and the deployments' owner,
/// all on one state database. Several replicas may run against the same state database: the inbox is handled by one at a time,
/// each message is sent by one, and each deployment is run by the one holding it.
/// </summary>
public sealed class ChatOpsBot
{
    private readonly List<Task> _loops = [];
    private CancellationTokenSource? _stopping;

    /// <param name="firstRetry">The outbox's first retry delay (default 1 s; tests make it short).</param>
    /// <param name="metrics">Where the owner and the dispatchers report, and what observes this replica; none when null.</param>
    /// <param name="schedule">The scheduled jobs (Quartz on the state database; started and stopped with the bot); without one,
    /// <c>start --window</c> is refused on this replica and it fires no job.</param>
    public ChatOpsBot(BotParts parts, IReadOnlyDictionary<string, IChatChannel> platforms, TimeSpan? firstRetry = null, BotMetrics? metrics = null,
        IDeploymentSchedule? schedule = null)
    {
        Parts = parts;
        Metrics = metrics;
        Schedule = schedule;
        Store = new DeploymentStore(parts.State, parts.Roles, parts.Approvals, parts.Permissions);
        Inbox = new Inbox(parts.State, parts.Time);
        Outbox = new Outbox(parts.State, parts.Time);
        var cards = Cards = new DeploymentCards(Store, Outbox, parts.Time);
        Reporter = new DeploymentReporter(Store, Outbox, cards, parts.Reporting ?? ReportingPolicy.Default, parts.Monitoring, parts.Time,
            parts.Logging.CreateLogger<DeploymentReporter>());
        Reporting = schedule is null
            ? null
            : new ReportingWork(Store, Reporter, parts.Targets, schedule, parts.Time, parts.Logging.CreateLogger<ReportingWork>());
        // One look at the files on disk for the owner and the watch: they share what was hashed already.
        var files = new PinnedFileCheck(parts.Catalog);
        Owner = new DeploymentOwner(Store, Outbox, cards, Reporter, parts.Targets, parts.Execution, parts.Monitoring, parts.Time, parts.Logging.CreateLogger<DeploymentOwner>())
        {
            Metrics = metrics,
            Files = files,
            Reporting = Reporting,
            Schedule = schedule,
        };
        SignOffs = new SignOffWatch(Store, cards, files, parts.Time, parts.Logging.CreateLogger<SignOffWatch>())
        {
            Interval = parts.SignOffWatchInterval ?? SignOffWatch.DefaultInterval,
        };
        Conductors = platforms.ToDictionary(p => p.Key, p =>
        {
            var conductor = new Conductor(p.Key, Store, Outbox, cards, p.Value, parts.Catalog, parts.Targets, parts.Roles, parts.Execution, parts.Time,
                parts.Logging.CreateLogger<Conductor>())
            {
                AcknowledgeEveryCommand = p.Key == "Discord",
                Reporter = Reporter,
                Window = parts.Window,
                Schedule = schedule,
            };
            conductor.OwnerWanted += Owner.Wake;
            return conductor;
        });
        Dispatchers = platforms.ToDictionary(p => p.Key, p => new OutboxDispatcher(p.Key, Outbox, p.Value, parts.Time, parts.Logging.CreateLogger<OutboxDispatcher>())
        {
            FirstBackoff = firstRetry ?? TimeSpan.FromSeconds(1),
            MaxBackoff = firstRetry is { } fast ? fast * 4 : TimeSpan.FromMinutes(1),
            Metrics = metrics,
        });
        Windows = new WindowWork(Store, Outbox, cards, parts.Targets, parts.Execution, parts.Window, schedule, parts.Time, parts.Logging.CreateLogger<WindowWork>());
        Windows.OwnerWanted += Owner.Wake;
        Handler = new InboxHandler(Inbox, Store, Conductors, parts.Logging.CreateLogger<InboxHandler>());
        Inbox.Accepted += Handler.Wake;
        Outbox.Written += () =>
        {
            foreach (var dispatcher in Dispatchers.Values)
                dispatcher.Wake();
        };
        metrics?.Watch(this);
    }

    public BotParts Parts { get; }
    public DeploymentStore Store { get; }
    public Inbox Inbox { get; }
    public Outbox Outbox { get; }
    public DeploymentOwner Owner { get; }
    public DeploymentReporter Reporter { get; }
    public InboxHandler Handler { get; }
    public IReadOnlyDictionary<string, Conductor> Conductors { get; }
    public IReadOnlyDictionary<string, OutboxDispatcher> Dispatchers { get; }
    public BotMetrics? Metrics { get; }
    public DeploymentCards Cards { get; }

    /// <summary>Sign-offs expiring and pinned files changing while deployments take sign-offs: said on the card and in the thread.</summary>
    public SignOffWatch SignOffs { get; }

    /// <summary>The scheduled jobs, or null when this replica runs none.</summary>
    public IDeploymentSchedule? Schedule { get; }

    /// <summary>What the window jobs do: a deployment's maintenance window opening, the 24-hour reminder.</summary>
    public WindowWork Windows { get; }

    /// <summary>What the reporting jobs do: status posts, the end of post-deployment monitoring; null without a scheduler.</summary>
    public ReportingWork? Reporting { get; }

    /// <summary>Reads the open cards and starts the loops (the state schema is migrated already: <see cref="StateDatabase.MigrateAsync"/>).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var conductor in Conductors.Values)
            await conductor.LoadCardsAsync(cancellationToken);
        _stopping = new CancellationTokenSource();
        var stopping = _stopping.Token;
        _loops.Add(Task.Run(() => Handler.RunAsync(stopping), CancellationToken.None));
        _loops.AddRange(Dispatchers.Values.Select(d => Task.Run(() => d.RunAsync(stopping), CancellationToken.None)));
        _loops.Add(Owner.RunAsync(stopping));
        _loops.Add(Task.Run(() => SignOffs.RunAsync(stopping), CancellationToken.None));
        if (Metrics is { } metrics)
            _loops.Add(Task.Run(() => metrics.RunAsync(stopping), CancellationToken.None));
        if (Schedule is { } schedule)
            await schedule.StartAsync(new DeploymentWork(Windows, Reporting, Owner), cancellationToken);
    }

    /// <summary>
    /// Waits until nothing is left to do here: the inbox handled, no run or rollback going, the outbox sent (or parked). What the
    /// local channel waits for between lines, and what tests wait for; a deployment waiting for a person counts as settled.
    /// </summary>
    /// <param name="runs">Wait for runs and rollbacks to end too; without it, only for the events handled and their messages sent.</param>
    public async Task SettleAsync(TimeSpan timeout, CancellationToken cancellationToken, bool runs = true)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var time = Parts.Time;
        long? quietSince = null;
        while (true)
        {
            var quiet = await Inbox.PendingAsync([.. Conductors.Keys], limit.Token) == 0 && (await Outbox.DepthAsync(limit.Token)).Pending == 0
                        && (!runs || (!Owner.Busy && !await AwaitingOwnerAsync(limit.Token)));
            // Quiet twice in a row a little apart: a run that just finished may still be writing its last messages.
            if (quiet && quietSince is { } since && time.GetElapsedTime(since) >= TimeSpan.FromMilliseconds(100))
                return;
            quietSince = quiet ? quietSince ?? time.GetTimestamp() : null;
            await Task.Delay(TimeSpan.FromMilliseconds(25), time, limit.Token);
        }
    }

    // An approved, running, monitored or rolling-back deployment is work going on or about to start (its owner may not have looked yet);
    // one approved and waiting for its maintenance window is not.
    private Task<bool> AwaitingOwnerAsync(CancellationToken cancellationToken) => Store.AnyOwnerWorkAsync(cancellationToken);

    /// <summary>Stops the loops; deployments held here are let go for another replica (or the next start) to take over.</summary>
    public async Task StopAsync()
    {
        if (_stopping is null)
            return;
        // Loops first: a run job lasts as long as its deployment is held here, and ends when the owner lets it go; then the scheduler
        // (its jobs finish first: a job firing meanwhile into the stopping owner returns at once).
        await _stopping.CancelAsync();
        if (Schedule is { } schedule)
            await schedule.StopAsync();
        await Task.WhenAll(_loops).ContinueWith(_ => { }, TaskScheduler.Default);
        _stopping.Dispose();
        _stopping = null;
    }
}
