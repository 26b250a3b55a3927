using ChatOps.Bot.Conversation;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using ChatOps.Postgres.Workload;
using Npgsql;

namespace ChatOps.Bot.Cli;

/// <summary>
/// The demo's conversation: what its people type in the local channel and when. Every line goes through <see cref="ScriptedInput"/>
/// into the same loop, input reader and inbox as a person's at <c>serve</c>'s console; the story only types, waits for the deployment
/// to get somewhere (read from the state database), and — with <c>--breach</c> — plays the other application whose session blocks
/// the table, from the moment phase 2 starts (the bot's runbook events, <see cref="ChatOpsBot.Metrics"/>). Lines marked 🎬 are the
/// narrator's, not the bot's.
/// </summary>
public sealed class DemoStory(ChatOpsBot bot, LocalChannel channel, ScriptedInput input, TimeProvider time)
{
    /// <summary>The pause between two typed lines: long enough to read what came before.</summary>
    public TimeSpan Pace { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>The table the blocking session locks (the demo application's).</summary>
    public const string BlockedTable = "public.contacts";

    private const int QueuedApplicationSessions = 3;

    private static readonly TimeSpan StatePoll = TimeSpan.FromMilliseconds(250);

    // Completed once the blocking session holds the table (or failed, saying why), on the runner's thread as phase 2 starts.
    private readonly TaskCompletionSource _locked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<RunbookEvent>? _lockAtPhase2;

    private sealed class StoryStopped(string reason) : Exception(reason);

    /// <summary>Plays the story to its end: null when the deployment got where the story goes (Completed, or RolledBack with a breach), else why not.</summary>
    /// <param name="targetConnectionString">Where the blocking session connects (<paramref name="breach"/>).</param>
    /// <param name="postDeployment">How long post-deployment monitoring lasts (how long to wait for the report).</param>
    public async Task<string?> RunAsync(string migration, bool breach, string targetConnectionString, TimeSpan postDeployment, CancellationToken cancellationToken)
    {
        try
        {
            var (id, blocker) = await RequestAndSignAsync(migration, breach ? targetConnectionString : null, cancellationToken);
            // Released by the story once the DBA has answered; here as well when the story stops before that.
            await using (blocker)
            {
                if (blocker is null)
                    await DeployAsync(id, postDeployment, cancellationToken);
                else
                    await BreachAsync(id, blocker, cancellationToken);
            }
            return null;
        }
        catch (StoryStopped stopped)
        {
            return stopped.Message;
        }
        finally
        {
            if (_lockAtPhase2 is not null)
                bot.Metrics!.Recorded -= _lockAtPhase2;
        }
    }

    private async Task<(DeploymentId Id, BlockingSession? Blocker)> RequestAndSignAsync(string migration, string? blockerTarget, CancellationToken cancellationToken)
    {
        await TypeAsync($"/migrate start {migration}", cancellationToken);
        var id = (await bot.Store.LatestByMigrationAsync(cancellationToken)).TryGetValue(migration, out var latest)
            ? latest.Id
            : throw new StoryStopped($"/migrate start {migration} started no deployment (its answer is above)");
        await PauseAsync(cancellationToken);
        await TypeAsync($"/migrate approve {id}", cancellationToken);   // the requester: refused, separation of duties
        BlockingSession? blocker = null;
        foreach (var (user, _) in DemoCast.Signers)
        {
            await PauseAsync(cancellationToken);
            // The other application's sessions connect before the run starts, ready to lock as phase 2 starts (phase 2 may be short).
            if (blockerTarget is not null && user == DemoCast.Signers[^1].User)
            {
                blocker = await BlockingSession.ConnectAsync(blockerTarget, QueuedApplicationSessions, cancellationToken);
                LockAtPhase2(blocker);
            }
            await TypeAsync($"react {user} ✅ {id}", cancellationToken);
        }
        return (id, blocker);
    }

    /// <summary>The run, a status on demand, post-deployment monitoring with one more, and the performance report.</summary>
    private async Task DeployAsync(DeploymentId id, TimeSpan postDeployment, CancellationToken cancellationToken)
    {
        await UntilAsync(id, d => d.State is not (DeploymentState.Requested or DeploymentState.AwaitingApproval or DeploymentState.Approved),
            DeploymentState.Completed, "to start running", TimeSpan.FromMinutes(1), StatePoll, cancellationToken);
        await PauseAsync(cancellationToken);
        await TypeAsync($"/migrate status {id}", cancellationToken);
        await UntilAsync(id, d => d.State == DeploymentState.Monitoring, DeploymentState.Completed, "to pass its verdict and start post-deployment monitoring",
            TimeSpan.FromMinutes(3), StatePoll, cancellationToken);
        await Task.Delay(postDeployment / 3, time, cancellationToken);
        await TypeAsync($"/migrate status {id}", cancellationToken);
        await UntilAsync(id, d => d.State == DeploymentState.Completed, DeploymentState.Completed, "to complete (the performance report)",
            postDeployment + TimeSpan.FromMinutes(2), StatePoll, cancellationToken);
        await bot.SettleAsync(TimeSpan.FromMinutes(1), cancellationToken);
    }

    /// <summary>
    /// The blocking session takes its lock as the runner starts phase 2: on the runner's thread, where the runbook's events are raised as
    /// they happen (<see cref="BotMetrics.Recorded"/>), returning once the lock is granted — before the phase's first statement can run, so
    /// that statement always waits for it, however short phase 2 would have been. (The phase stored in the state database comes a little
    /// later: a story polling it could find phase 2 over.) Once: phase 2 starts once a run.
    /// </summary>
    private void LockAtPhase2(BlockingSession blocker)
    {
        var events = bot.Metrics ?? throw new InvalidOperationException("the breach needs the bot's runbook events: the demo's bot is built with metrics");
        _lockAtPhase2 = e =>
        {
            if (e is not PhaseStarted { Phase: RunbookPhase.Migration } || _locked.Task.IsCompleted)
                return;
            try
            {
                blocker.Hold(BlockedTable);
                _locked.TrySetResult();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                _locked.TrySetException(ex);   // the story says so; the run goes on unblocked
            }
        };
        events.Recorded += _lockAtPhase2;
    }

    /// <summary>Another application locks the table during phase 2; the trigger fires, the bot alerts and asks; the DBA answers ⏪.</summary>
    private async Task BreachAsync(DeploymentId id, BlockingSession blocker, CancellationToken cancellationToken)
    {
        // Phase 2 and no other: the migration's statements are what the blocking session holds up. It took the table as phase 2 started;
        // once the phase is stored (and so its start line written), the narrator says so.
        await UntilAsync(id, d => d.State != DeploymentState.Running || d.Phase >= RunbookPhase.Migration,
            DeploymentState.RolledBack, "to reach phase 2", TimeSpan.FromMinutes(2), StatePoll, cancellationToken);
        InPhase2(await bot.Store.LoadAsync(id, cancellationToken), id, "before the blocking session could lock the table");
        try
        {
            await _locked.Task.WaitAsync(TimeSpan.FromMinutes(1), time, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            throw new StoryStopped($"{BlockingSession.HolderName} could not lock {BlockedTable} as phase 2 started: {ex.Message}");
        }
        // Told once what the channel was sent so far is printed: the phase's start comes before the narrator's line about it. The table
        // held, the migration's first statement on it waits: phase 2 goes on until the story lets go.
        await bot.SettleAsync(TimeSpan.FromSeconds(30), cancellationToken, runs: false);
        var now = InPhase2(await bot.Store.LoadAsync(id, cancellationToken), id, "while the blocking session held the table");
        channel.Print($"🎬 {BlockingSession.HolderName} (another application) takes ACCESS EXCLUSIVE on {BlockedTable} in a transaction and keeps it" +
                      $" — the deployment is in {now.Phase!.Value.Title()}; {blocker.Queued} application reads queue behind it, " +
                      "and the application's own sessions with them. The migration waits too: it does not knock while someone is inside.");
        await UntilAsync(id, async _ => await bot.Store.RollbackPromptUntilAsync(id, cancellationToken) is not null, DeploymentState.RolledBack,
            "to alert and ask whether to roll back", TimeSpan.FromMinutes(2), StatePoll, cancellationToken);
        await bot.SettleAsync(TimeSpan.FromMinutes(1), cancellationToken, runs: false);   // the alert and the prompt are printed
        await PauseAsync(cancellationToken);
        await TypeAsync($"/migrate status {id}", cancellationToken);
        await PauseAsync(cancellationToken);
        await TypeAsync($"react {DemoCast.DatabaseAdministrator} ⏪ {id}", cancellationToken);
        channel.Print($"🎬 {BlockingSession.HolderName} commits: its lock goes, and the queued sessions go on.");
        await blocker.DisposeAsync();
        await UntilAsync(id, d => d.State == DeploymentState.RolledBack, DeploymentState.RolledBack, "to roll back", TimeSpan.FromMinutes(2), StatePoll,
            cancellationToken);
        await bot.SettleAsync(TimeSpan.FromMinutes(1), cancellationToken);
    }

    /// <summary>The deployment, running phase 2; otherwise the story stops, saying it missed phase 2 <paramref name="when"/>.</summary>
    private static Deployment InPhase2(Deployment? deployment, DeploymentId id, string when) =>
        deployment is { State: DeploymentState.Running, Phase: RunbookPhase.Migration }
            ? deployment
            : throw new StoryStopped($"{id} was past phase 2 ({deployment?.State}{(deployment?.Phase is { } p ? $", {p.Title()}" : "")}) {when}: " +
                                     "the breach is for phase 2; run the demo again");

    private async Task TypeAsync(string line, CancellationToken cancellationToken)
    {
        // A person's command shows on their screen as they type it; a reaction's line is the loop's to print.
        if (line.StartsWith('/'))
            channel.Print($"{DemoCast.Requester}: {line}");
        await input.TypeAsync(line, cancellationToken);
    }

    private Task PauseAsync(CancellationToken cancellationToken) => Task.Delay(Pace, time, cancellationToken);

    /// <summary>
    /// Polls the deployment until <paramref name="reached"/> says the story may go on; stops the story when the deployment ended
    /// other than at <paramref name="ending"/>, or when the wait outlasts <paramref name="limit"/>.
    /// </summary>
    private async Task UntilAsync(DeploymentId id, Func<Deployment, Task<bool>> reached, DeploymentState ending, string what, TimeSpan limit, TimeSpan poll,
        CancellationToken cancellationToken)
    {
        var began = time.GetTimestamp();
        while (true)
        {
            var deployment = await bot.Store.LoadAsync(id, cancellationToken) ?? throw new StoryStopped($"{id} is gone from the state database");
            if (await reached(deployment))
                return;
            if (Ended(deployment.State) && deployment.State != ending)
                throw new StoryStopped($"{id} ended {deployment.State} ({deployment.Audit.LastOrDefault(a => a.Who == "bot")?.What ?? "no audit"}) while the demo waited for it {what}");
            if (time.GetElapsedTime(began) > limit)
                throw new StoryStopped($"{id} did not get {what} within {limit.TotalSeconds:0} s: it is {deployment.State}" +
                                       $"{(deployment.Phase is { } p ? $", {p.Title()}" : "")}");
            await Task.Delay(poll, time, cancellationToken);
        }
    }

    private Task UntilAsync(DeploymentId id, Func<Deployment, bool> reached, DeploymentState ending, string what, TimeSpan limit, TimeSpan poll,
        CancellationToken cancellationToken) =>
        UntilAsync(id, d => Task.FromResult(reached(d)), ending, what, limit, poll, cancellationToken);

    private static bool Ended(DeploymentState state) =>
        state is DeploymentState.Completed or DeploymentState.Failed or DeploymentState.RolledBack or DeploymentState.RollbackFailed or DeploymentState.Aborted;
}
