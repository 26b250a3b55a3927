using System.Collections.Concurrent;
using System.Security.Cryptography;
using ChatOps.Bot.Scheduling;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Probes;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>Where deployments may go: the default target and the named ones (<c>ChatOps:Targets:&lt;name&gt;</c>).</summary>
public sealed record Targets(string? Default, IReadOnlyDictionary<string, string> Named)
{
    /// <summary>The connection string for <paramref name="name"/> (null: the default), or null with why not.</summary>
    public (string? ConnectionString, string? Error) Resolve(string? name) => name is null
        ? Default is null ? (null, "no default target: set ConnectionStrings:Target, or name one with --target") : (Default, null)
        : Named.TryGetValue(name, out var cs) ? (cs, null)
        : (null, $"no target named '{name}'; known: {(Named.Count == 0 ? "none (ChatOps:Targets is empty)" : string.Join(", ", Named.Keys.Order()))}");

    /// <summary>The configured target <paramref name="deployment"/> was started on. Never a fallback: a target no longer configured is an error, not another database.</summary>
    public string ConnectionStringOf(Deployment deployment) =>
        new[] { Default }.Concat(Named.Values).FirstOrDefault(cs => cs is not null && ConnectionStrings.Describe(cs) == deployment.Target)
        ?? throw new InvalidOperationException($"{deployment.Id}'s target {deployment.Target} is no longer configured (ConnectionStrings:Target, ChatOps:Targets)");
}

/// <summary>
/// The conversation on one platform: reads <c>/migrate</c> commands and reactions and changes each <see cref="Deployment"/> in the
/// state database, writing what people should see to the outbox in the same transaction (nothing lost, nothing said twice). It
/// never runs anything itself: approved, paused, resumed, aborted and rolled-back deployments are the <see cref="DeploymentOwner"/>'s
/// to act on, on whichever replica holds them.
/// </summary>
public sealed class Conductor(
    string platform,
    DeploymentStore store,
    Outbox outbox,
    DeploymentCards cards,
    IChatChannel channel,
    MigrationCatalog catalog,
    Targets targets,
    RoleHolders holders,
    ExecutionOptions execution,
    TimeProvider time,
    ILogger<Conductor> logger)
{
    private readonly DeploymentPermissions _permissions = store.Permissions;
    private readonly ConcurrentDictionary<int, MessageReference> _cards = new();
    private readonly PinnedFileCheck _files = new(catalog);
    private static readonly IReadOnlySet<string> NoGroups = new HashSet<string>();

    /// <summary>How long a rollback prompt waits for its ⏪.</summary>
    public static readonly TimeSpan RollbackPromptValidFor = TimeSpan.FromMinutes(5);

    /// <summary>What <c>status</c> shows besides the card while a deployment runs, is paused or is monitored; the card alone when null.</summary>
    public DeploymentReporter? Reporter { get; init; }

    /// <summary>The platform this conductor speaks on (<c>Local</c>, <c>Slack</c>, <c>Discord</c>).</summary>
    public string Platform => platform;

    /// <summary>
    /// Answer every command privately too, even one answered in the channel (Discord's deferred interaction waits for it).
    /// </summary>
    public bool AcknowledgeEveryCommand { get; init; }

    /// <summary>The maintenance window <c>start --window</c> schedules into; null: <c>--window</c> is refused, saying how to configure one.</summary>
    public MaintenanceWindow? Window { get; init; }

    /// <summary>Where <c>start --window</c> schedules the reminder and the window's start; null: <c>--window</c> is refused.</summary>
    public IDeploymentSchedule? Schedule { get; init; }

    /// <summary>Raised after a change the deployment's owner has to act on (approved, paused, resumed, aborted, rolling back) was committed.</summary>
    public event Action? OwnerWanted;

    /// <summary>The card of <paramref name="id"/> (what the local channel's <c>react … D-n</c> points at), or null when there is none.</summary>
    public MessageReference? CardOf(DeploymentId id) => _cards.TryGetValue(id.Number, out var card) ? card : null;

    /// <summary>Reads the cards of deployments still active (posted before a restart) once, at start-up: <see cref="CardOf"/> never waits on the database.</summary>
    public async Task LoadCardsAsync(CancellationToken cancellationToken)
    {
        foreach (var (id, card) in await store.ActiveCardsAsync(cancellationToken))
            _cards[id.Number] = card;
    }

    private DateTimeOffset Now => time.GetUtcNow();

    // Per event: whether the caller got a private answer, and whether the owner must look.
    private sealed class Handling(StateScope scope, ChatEvent chatEvent)
    {
        public StateScope Scope => scope;
        public ChatEvent Event => chatEvent;
        public bool Told { get; set; }
        public bool WakeOwner { get; set; }
    }

    /// <summary>
    /// Handles one event inside <paramref name="scope"/> (the caller commits it with the inbox's mark): state changes and the
    /// messages they cause go in together. Returns what became of it, for the inbox's record.
    /// </summary>
    public async Task<string> HandleAsync(StateScope scope, ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        var handling = new Handling(scope, chatEvent);
        var outcome = chatEvent switch
        {
            CommandReceived command => await CommandAsync(handling, command, cancellationToken),
            ReactionAdded added => await ReactionAsync(handling, added.UserId, added.Message, added.Emoji, added.EmojiName, removed: false, cancellationToken),
            ReactionRemoved removed => await ReactionAsync(handling, removed.UserId, removed.Message, removed.Emoji, removed.EmojiName, removed: true, cancellationToken),
            ThreadReplied reply => await ThreadReplyAsync(handling, reply, cancellationToken),
            SignOffReactionsListed listing => await ReactionsListedAsync(handling, listing, cancellationToken),
            _ => "not an event the conductor knows",
        };
        if (chatEvent is CommandReceived asked && AcknowledgeEveryCommand && !handling.Told)
            await outbox.PrivateAsync(scope, platform, asked.Caller, new ChatMessage($"✓ {outcome}"), cancellationToken);
        if (handling.WakeOwner)
            scope.Committed += () => OwnerWanted?.Invoke();
        return outcome;
    }

    /// <summary>An event whose handling failed (its changes rolled back): said to whoever did it, in a scope of its own.</summary>
    public async Task FailedAsync(StateScope scope, ChatEvent chatEvent, Exception failure, CancellationToken cancellationToken)
    {
        var why = failure is Npgsql.NpgsqlException npgsql ? TargetFailure.Classify(npgsql)?.Message ?? npgsql.Message : failure.Message;
        logger.LogError(failure, "handling {Event} failed", chatEvent.GetType().Name);
        if (chatEvent is SignOffReactionsListed listing)
        {
            // Nobody did it, so nobody is answered: the channel is told the card's sign-offs may not match its ✅.
            await outbox.PostAsync(scope, platform, chatEvent.ChannelId, new ChatMessage(
                $"⚠️ the ✅ on a card could not be checked against its sign-offs after a reconnect ({why}): /migrate status shows who counts"), cancellationToken);
            return;
        }
        await outbox.PrivateAsync(scope, platform, chatEvent is CommandReceived c ? c.Caller : new Caller(chatEvent.ChannelId, chatEvent.UserId),
            new ChatMessage($"⚠️ that did not work: {why}"), cancellationToken);
    }

    private async Task<string> CommandAsync(Handling h, CommandReceived command, CancellationToken cancellationToken)
    {
        var parsed = MigrateGrammar.Parse(command.Text);
        if (!parsed.Succeeded)
            return await TellAsync(h, command, "⚠️ " + parsed.Error.ToPlainText(), cancellationToken);
        switch (parsed.Command)
        {
            case MigrateCommand.Help:
                return await TellAsync(h, command, MigrateGrammar.HelpAsPlainText(), cancellationToken);
            case MigrateCommand.List:
                var latest = await store.LatestByMigrationAsync(cancellationToken, h.Scope);
                return await SayAsync(h, command.ChannelId, "Migrations:\n" + string.Join("\n", catalog.List().Select(m => latest.TryGetValue(m.Id, out var last)
                    ? $"  {m.Id} — last deployment {last.Id}: {Deployment.Describe(last.State)}"
                    : $"  {m.Id} — never deployed from here")), cancellationToken);
            case MigrateCommand.Plan plan:
                return await PlanAsync(h, command, plan.Migration, cancellationToken);
            case MigrateCommand.Start start:
                return await StartAsync(h, command, start, cancellationToken);
            case DeploymentCommand control:
                return await ControlAsync(h, command, control, cancellationToken);
            default:
                return "nothing to do";
        }
    }

    private async Task<string> PlanAsync(Handling h, CommandReceived command, string migration, CancellationToken cancellationToken)
    {
        MigrationFiles files;
        try
        {
            files = catalog.Find(migration);
        }
        catch (MigrationNotFoundException ex)
        {
            return await TellAsync(h, command, $"⚠️ {ex.Message}", cancellationToken);
        }
        var script = await MigrationCatalog.ReadAsync(files.SqlPath, cancellationToken);
        var plan = MigrationPlan.For(files.Id, script.Sha256, SqlScript.Parse(script.Text));
        await outbox.PostAsync(h.Scope, platform, command.ChannelId, PlanMessage.Render(plan), cancellationToken);
        return $"plan of {files.Id} posted";
    }

    private async Task<string> StartAsync(Handling h, CommandReceived command, MigrateCommand.Start start, CancellationToken cancellationToken)
    {
        if (_permissions.Refusal(command.UserId, await channel.GroupsOfAsync(command.UserId, cancellationToken), DeploymentAction.Start) is { } refusal)
            return await TellAsync(h, command, $"⛔ {refusal}", cancellationToken);
        MigrationFiles files;
        try
        {
            files = catalog.Find(start.Migration);
        }
        catch (MigrationNotFoundException ex)
        {
            return await TellAsync(h, command, $"⚠️ {ex.Message}", cancellationToken);
        }
        var (target, error) = targets.Resolve(start.Target);
        if (target is null)
            return await TellAsync(h, command, $"⚠️ {error}", cancellationToken);
        if (start.Window && Window is null)
            return await TellAsync(h, command, $"⚠️ {BotSettings.NoWindowConfigured}", cancellationToken);
        if (start.Window && Schedule is null)
            return await TellAsync(h, command, "⚠️ this replica runs no scheduler: --window needs serve's (Quartz on the state database)", cancellationToken);

        // What runs is exactly these bytes, whatever happens to the files later.
        var pinned = new PinnedMigration(files.Id, await PinAsync(files.SqlPath, cancellationToken),
            files.RollbackPath is null ? null : await PinAsync(files.RollbackPath, cancellationToken),
            files.RunbookPath is null ? null : await PinAsync(files.RunbookPath, cancellationToken));
        var id = await store.NextIdAsync(cancellationToken, h.Scope);
        var deployment = new Deployment(id, pinned, ConnectionStrings.Describe(target), command.UserId, command.ChannelId, holders, store.Policy, Now,
            _permissions, platform);

        // The card shows the checks as they are now; the run checks again before it touches anything.
        var checks = await CheckAsync(target, id, pinned, execution, cancellationToken);
        deployment.AwaitApproval(Now, checks.All(c => c.Status != CheckStatus.Fail));
        var window = start.Window ? Window!.Next(Now) : null;
        if (window is not null)
            deployment.ScheduleInto(window, MaintenanceWindow.Describe(window), Now);
        await store.SaveAsync(h.Scope, deployment, cancellationToken);
        var card = await outbox.PostAsync(h.Scope, platform, command.ChannelId, cards.Render(deployment, checks), cancellationToken, id.Number);
        await store.SetCardAsync(id, card.MessageId, checks, cancellationToken, h.Scope);
        // The bot's own ✅ on its card is there for people to click (it never counts).
        await outbox.ReactAsync(h.Scope, platform, card, ReactionEmoji.SignOff, cancellationToken);
        if (window is not null)
            await ScheduleWindowAsync(h, deployment, window, cancellationToken);
        h.Scope.Committed += () => _cards[id.Number] = card;
        logger.LogInformation("{Deployment} of {Migration} requested by {User}", id, files.Id, command.UserId);
        return window is null
            ? $"{id} requested: its card is in the channel"
            : $"{id} requested for the maintenance window {Window!.Describe(window.Start)}: its card is in the channel";
    }

    /// <summary>
    /// <c>start --window</c>: the scheduled time in the card's thread (the window's zone and UTC), the 24-hour reminder and the window's
    /// start scheduled. The jobs are stored before the event's transaction commits, under the deployment's scheduling lock: a job due at
    /// once (the reminder, when the window is under 24 hours away) waits for the commit; should it roll back, the jobs find no
    /// deployment waiting for a window and do nothing (scheduling again replaces them).
    /// </summary>
    private async Task ScheduleWindowAsync(Handling h, Deployment deployment, ScheduledWindow window, CancellationToken cancellationToken)
    {
        await WindowWork.HoldAsync(h.Scope, deployment.Id, cancellationToken);
        var reminder = MaintenanceWindow.ReminderAt(Now, window.Start);
        await Schedule!.ScheduleAsync(DeploymentJobKind.Reminder, deployment.Id, reminder, cancellationToken);
        await Schedule.ScheduleAsync(DeploymentJobKind.WindowStart, deployment.Id, window.Start, cancellationToken);
        await cards.ThreadAsync(h.Scope, deployment, WindowWork.Scheduled(deployment, window, reminder, Window!), cancellationToken);
    }

    private async Task<string> ControlAsync(Handling h, CommandReceived command, DeploymentCommand control, CancellationToken cancellationToken)
    {
        DeploymentId id;
        if (control.Deployment is { } named)
            id = named;
        else
        {
            var active = await store.ActiveInAsync(command.ChannelId, cancellationToken, h.Scope);
            if (active.Count != 1)
                return await TellAsync(h, command, active.Count == 0
                    ? "⚠️ no active deployment in this channel: name one (D-n)"
                    : $"⚠️ several active deployments here: name one of {string.Join(", ", active.Select(d => d.Id))}", cancellationToken);
            id = active[0].Id;
        }
        // A sign-off and every control command are judged by the caller's roles, some of which may come through platform groups:
        // asked of the platform before the deployment is locked. A revoke needs none (the sign-off's record knows the signer).
        var groups = control is MigrateCommand.Approve or MigrateCommand.Pause or MigrateCommand.Resume or MigrateCommand.Abort or MigrateCommand.Rollback
            ? await channel.GroupsOfAsync(command.UserId, cancellationToken)
            : NoGroups;
        if (await store.LoadForUpdateAsync(h.Scope, id, cancellationToken) is not { } deployment)
            return await TellAsync(h, command, $"⚠️ no deployment {id}", cancellationToken);

        var user = command.UserId;
        string answer;
        switch (control)
        {
            case MigrateCommand.Status:
                await outbox.PostAsync(h.Scope, platform, command.ChannelId, await cards.RenderAsync(deployment, cancellationToken, h.Scope), cancellationToken);
                // While it runs, is paused or is monitored: the figures too, as the status posts show them.
                if (Reporter is not null && await Reporter.StatusAsync(deployment, cancellationToken) is { } figures)
                    await outbox.PostAsync(h.Scope, platform, command.ChannelId, figures, cancellationToken);
                // Every command is an audit event, a look too; only the trail is written (the card and thread show nothing of it).
                deployment.Looked(user, "status: the card posted on demand", Now);
                await store.SaveAsync(h.Scope, deployment, cancellationToken);
                return $"{deployment.Id} status posted";
            case MigrateCommand.History:
                // The trail as it was asked for; the request itself is its next line.
                var trail = $"{deployment.Id} audit trail, most recent first:\n" + string.Join("\n",
                    deployment.Audit.Reverse().Select(a => $"  {a.At:yyyy-MM-dd HH:mm:ss}Z {a.Who}: {a.What}{(a.Counted ? "" : " (not counted)")}"));
                deployment.Looked(user, "history: the audit trail posted", Now);
                await store.SaveAsync(h.Scope, deployment, cancellationToken);
                return await SayAsync(h, command.ChannelId, trail, cancellationToken);
            case MigrateCommand.Approve:
                answer = await SignAsync(h, deployment, user, groups, SignOffGivenBy.Command, cancellationToken);
                break;
            case MigrateCommand.Revoke:
                answer = await RevokeAsync(h, deployment, user, cancellationToken);
                break;
            case MigrateCommand.Pause:
                var paused = deployment.Pause(user, groups, Now);
                h.WakeOwner |= paused.Done;
                answer = paused.Done ? paused.Why : $"pause refused: {paused.Why}";
                break;
            case MigrateCommand.Resume when deployment.State != DeploymentState.Paused
                                              && await store.RollbackPromptRollsBackAsync(deployment.Id, cancellationToken, h.Scope):
                // "keep going": a rollback trigger's prompt would roll back by itself when it lapses; a permitted person calls that off.
                if (store.Permissions.Refusal(user, groups, DeploymentAction.Resume) is { } refusal)
                {
                    deployment.Ignored(user, $"keep going refused: {refusal}", Now);
                    answer = $"resume refused: {refusal}";
                    break;
                }
                await store.SetRollbackPromptAsync(h.Scope, deployment.Id, null, null, cancellationToken);
                deployment.Ignored(user, "the automatic rollback called off: keep going", Now);
                answer = "the automatic rollback is called off: the deployment keeps going (the alert stands; /migrate rollback --confirm still rolls back)";
                break;
            case MigrateCommand.Resume:
                var resumed = deployment.Resume(user, groups, Now);
                h.WakeOwner |= resumed.Done;
                // Going on is the answer to a trigger's prompt too: its automatic rollback is called off.
                if (resumed.Done && await store.RollbackPromptRollsBackAsync(deployment.Id, cancellationToken, h.Scope))
                    await store.SetRollbackPromptAsync(h.Scope, deployment.Id, null, null, cancellationToken);
                answer = resumed.Done ? resumed.Why : $"resume refused: {resumed.Why}";
                break;
            case MigrateCommand.Abort:
                var aborted = deployment.Abort(user, groups, Now);
                h.WakeOwner |= aborted.Done;
                if (aborted.Done && !deployment.ExecutionStarted)
                    await store.SetDatabaseStateAsync(h.Scope, deployment.Id, "database: not touched", cancellationToken);
                answer = aborted.Why;
                break;
            case MigrateCommand.Rollback rollback:
                answer = await RollbackAsync(h, deployment, user, groups, rollback.Confirmed, cancellationToken);
                break;
            default:
                return "nothing to do";
        }
        await store.SaveAsync(h.Scope, deployment, cancellationToken);
        await cards.EditAsync(h.Scope, deployment, cancellationToken);
        return await SayAsync(h, command.ChannelId, $"{deployment.Id}: {answer}", cancellationToken);
    }

    /// <summary>A reply under a deployment's card goes into its audit trail (the report's lessons learned); any other thread is not ours.</summary>
    private async Task<string> ThreadReplyAsync(Handling h, ThreadReplied reply, CancellationToken cancellationToken)
    {
        var key = await KeyOfAsync(reply.Parent.MessageId, cancellationToken);
        if (reply.UserId == channel.BotUserId || await store.ByCardAsync(key, cancellationToken, h.Scope) is not { } id
            || await store.LoadForUpdateAsync(h.Scope, id, cancellationToken) is not { } deployment)
            return "a reply in another thread";
        deployment.Said(reply.UserId, reply.Text, Now);
        await store.SaveAsync(h.Scope, deployment, cancellationToken);
        return $"kept in {deployment.Id}'s audit trail";
    }

    private async Task<string> ReactionAsync(Handling h, string user, MessageReference message, ReactionEmoji emoji, string emojiName, bool removed,
        CancellationToken cancellationToken)
    {
        var key = await KeyOfAsync(message.MessageId, cancellationToken);
        var prompt = await store.ByRollbackPromptAsync(key, cancellationToken, h.Scope);
        var id = prompt?.Id ?? await store.ByCardAsync(key, cancellationToken, h.Scope);
        if (id is null)
            return "a reaction on another message";   // not ours to count
        // ✅ signs and ⏪ confirms a rollback, both by role (perhaps through a platform group): asked before the deployment is locked.
        // A removed reaction needs no groups, and carries no membership on some platforms: the sign-off's record knows the signer.
        var bot = user == channel.BotUserId;
        var groups = !bot && !removed && emoji is ReactionEmoji.SignOff or ReactionEmoji.Rollback ? await channel.GroupsOfAsync(user, cancellationToken) : NoGroups;
        if (await store.LoadForUpdateAsync(h.Scope, id.Value, cancellationToken) is not { } deployment)
            return "a reaction on another message";
        if (bot || (prompt is not null && (emoji != ReactionEmoji.Rollback || removed)))
        {
            // Recorded like every reaction, and counted for nothing: the bot's own ✅ and ⏪ are there for people to click.
            var why = bot ? "the bot's own reaction never counts" : "only ⏪ answers a rollback prompt";
            deployment.Ignored(user, $"reaction {emojiName}{(removed ? " removed" : "")}: {why}", Now);
            await store.SaveAsync(h.Scope, deployment, cancellationToken);
            return why;
        }
        if (emoji == ReactionEmoji.Rollback && !removed)
        {
            // ⏪ confirms a pending rollback prompt (on the prompt, or on the card where a platform cannot react on the prompt).
            var until = await store.RollbackPromptUntilAsync(deployment.Id, cancellationToken, h.Scope);
            string said;
            if (until > Now)
                said = await RollbackAsync(h, deployment, user, groups, confirmed: true, cancellationToken);
            else
            {
                said = "⏪ with no rollback prompt pending (or it lapsed): type /migrate rollback first";
                deployment.Ignored(user, $"reaction {emojiName}: {said}", Now);
            }
            await store.SaveAsync(h.Scope, deployment, cancellationToken);
            await cards.EditAsync(h.Scope, deployment, cancellationToken);
            await SayAsync(h, deployment.Channel, $"{deployment.Id}: {said}", cancellationToken);
            return said;
        }
        if (emoji != ReactionEmoji.SignOff)
        {
            deployment.Ignored(user, $"reaction {emojiName} on the card: not the sign-off emoji", Now);
            await store.SaveAsync(h.Scope, deployment, cancellationToken);
            return "not the sign-off emoji";
        }
        var answer = removed
            ? await RevokeAsync(h, deployment, user, cancellationToken)
            : await SignAsync(h, deployment, user, groups, SignOffGivenBy.Reaction, cancellationToken);
        await store.SaveAsync(h.Scope, deployment, cancellationToken);
        await cards.EditAsync(h.Scope, deployment, cancellationToken);
        logger.LogInformation("{Deployment}: {Answer}", deployment.Id, answer);
        return answer;
    }

    /// <summary>
    /// The card's ✅ as the platform lists them after a reconnect: a sign-off given by a ✅ that is gone is revoked, and whoever reacted
    /// meanwhile signs, as the reactions missed would have (<see cref="Deployment.ReactionsListed"/>). The card is edited once.
    /// </summary>
    private async Task<string> ReactionsListedAsync(Handling h, SignOffReactionsListed listing, CancellationToken cancellationToken)
    {
        if (await store.ByCardAsync(await KeyOfAsync(listing.Card.MessageId, cancellationToken), cancellationToken, h.Scope) is not { } id)
            return "a listing of another message";
        var listed = listing.Users.Where(u => u != channel.BotUserId).ToHashSet(StringComparer.Ordinal);
        // Who signs is known from the deployment; their platform groups are asked before it is locked, as for a reaction.
        var groups = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var user in (await store.LoadAsync(id, cancellationToken))?.ToSignFrom(listed, listing.ListedAt) ?? [])
            groups[user] = await channel.GroupsOfAsync(user, cancellationToken);
        if (await store.LoadForUpdateAsync(h.Scope, id, cancellationToken) is not { } deployment)
            return "a listing of another message";
        var toSign = deployment.ToSignFrom(listed, listing.ListedAt);
        foreach (var user in toSign.Where(u => !groups.ContainsKey(u)))
            groups[user] = await channel.GroupsOfAsync(user, cancellationToken);   // unsigned since the read above: rare
        if (toSign.Count > 0)
            await BeforeSigningAsync(h, deployment, cancellationToken);
        var reconciled = deployment.ReactionsListed(listed, user => groups[user], Now, listing.ListedAt);
        h.WakeOwner |= deployment.State == DeploymentState.Approved;
        // Once execution started a gone ✅ changes nothing; the card's thread says so, as for a ✅ removed live.
        if (deployment.ExecutionStarted)
            foreach (var removed in reconciled.Removed)
                await cards.ThreadAsync(h.Scope, deployment, new ChatMessage($"↩️ {removed.Why}"), cancellationToken);
        await store.SaveAsync(h.Scope, deployment, cancellationToken);
        await cards.EditAsync(h.Scope, deployment, cancellationToken);
        logger.LogInformation("{Deployment}: ✅ reconciled: {Summary}", deployment.Id, reconciled.Summary);
        return $"{deployment.Id}: {reconciled.Summary}";
    }

    // The platform names its own message id; the card and prompts are known by their outbox keys.
    private async Task<string> KeyOfAsync(string messageId, CancellationToken cancellationToken) =>
        Outbox.IsKey(messageId) ? messageId : await outbox.KeyOfAsync(platform, messageId, cancellationToken) ?? messageId;

    /// <summary>The automated pre-deployment checks against <paramref name="target"/> now (an unreachable target is a failed check, not an error).</summary>
    internal static async Task<IReadOnlyList<CheckResult>> CheckAsync(string target, DeploymentId id, PinnedMigration pinned,
        ExecutionOptions execution, CancellationToken cancellationToken)
    {
        try
        {
            await using var session = await TargetSession.OpenAsync(target, $"chatops:{id}:card", cancellationToken);
            return await PreDeploymentChecks.RunAsync(session, DeploymentCards.PlanOf(pinned), DeploymentOwner.Runbook(pinned), execution.LockTimeout, cancellationToken, execution.OldSnapshotWarning);
        }
        catch (Npgsql.NpgsqlException ex)
        {
            return [new CheckResult("target reachable", CheckStatus.Fail, TargetFailure.Classify(ex)?.Message ?? ex.Message), .. Checklist.ManualItems];
        }
    }

    /// <summary>A sign-off; the fourth role covered (with the checks passing) approves, and the owner starts the run.</summary>
    private async Task<string> SignAsync(Handling h, Deployment deployment, string user, IReadOnlySet<string> groups, SignOffGivenBy givenBy,
        CancellationToken cancellationToken)
    {
        await BeforeSigningAsync(h, deployment, cancellationToken);
        var outcome = deployment.SignOff(user, groups, Now, givenBy);
        h.WakeOwner |= deployment.State == DeploymentState.Approved;
        return outcome.Why;
    }

    /// <summary>What a sign-off is judged against is made current first: the pinned files, and checks that had failed.</summary>
    private async Task BeforeSigningAsync(Handling h, Deployment deployment, CancellationToken cancellationToken)
    {
        // A file changed on disk before execution voids every sign-off: the card says why.
        await _files.VoidIfChangedAsync(deployment, Now, cancellationToken);
        if (!deployment.ChecksPass && deployment.State == DeploymentState.AwaitingApproval)
        {
            // Checks that failed when the card was posted (the target down, a table missing) are run again: once fixed, signing can approve.
            var checks = await CheckAsync(targets.ConnectionStringOf(deployment), deployment.Id, deployment.Migration, execution, cancellationToken);
            var failed = checks.Where(c => c.Status == CheckStatus.Fail).ToList();
            deployment.ChecksRanAgain(failed.Count == 0, failed.Count == 0 ? "all pass now" : $"still failing: {string.Join("; ", failed.Select(c => c.Name))}", Now);
            var (cardKey, _) = await store.CardAsync(deployment.Id, cancellationToken, h.Scope);
            await store.SetCardAsync(deployment.Id, cardKey, checks, cancellationToken, h.Scope);
        }
    }

    /// <summary>A removed ✅ (or <c>revoke</c>); once execution started it changes nothing, and the card's thread says so.</summary>
    private async Task<string> RevokeAsync(Handling h, Deployment deployment, string user, CancellationToken cancellationToken)
    {
        var outcome = deployment.Revoke(user, Now);
        if (deployment.ExecutionStarted && deployment.SignOffs.Signers.ContainsKey(user))
            await cards.ThreadAsync(h.Scope, deployment, new ChatMessage($"↩️ {outcome.Why}"), cancellationToken);
        return outcome.Why;
    }

    /// <summary>An unconfirmed request posts the prompt people answer with ⏪; a confirmed one hands the deployment to its owner to roll back.</summary>
    private async Task<string> RollbackAsync(Handling h, Deployment deployment, string user, IReadOnlySet<string> groups, bool confirmed,
        CancellationToken cancellationToken)
    {
        var outcome = deployment.Rollback(user, groups, confirmed, Now);
        if (!outcome.Done)
        {
            if (!confirmed && deployment.Audit[^1].What.StartsWith("rollback requested", StringComparison.Ordinal))
                await cards.PromptRollbackAsync(h.Scope, deployment, $"requested by {user}", cancellationToken);
            return outcome.Why;
        }
        await store.SetRollbackPromptAsync(h.Scope, deployment.Id, null, null, cancellationToken);
        // The owner cancels the forward run (if one is going) and awaits it before the rollback starts: never both at once.
        h.WakeOwner = true;
        return outcome.Why;
    }

    private static async Task<PinnedFile> PinAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        return new PinnedFile(Path.GetFileName(path), Sha256(bytes), bytes);
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>An answer for the caller alone (errors, refusals, help); returns it as the event's outcome.</summary>
    private async Task<string> TellAsync(Handling h, CommandReceived command, string text, CancellationToken cancellationToken)
    {
        await outbox.PrivateAsync(h.Scope, platform, command.Caller, new ChatMessage(text), cancellationToken);
        h.Told = true;
        return text;
    }

    private async Task<string> SayAsync(Handling h, string channelId, string text, CancellationToken cancellationToken)
    {
        await outbox.PostAsync(h.Scope, platform, channelId, new ChatMessage(text), cancellationToken);
        return text;
    }
}
