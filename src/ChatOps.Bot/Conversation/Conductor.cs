using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Execution;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Probes;
using ChatOps.Postgres.Runbooks;
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
}

/// <summary>
/// The conversation: reads <c>/migrate</c> commands and reactions, drives each <see cref="Deployment"/> (state in the state
/// database), posts and edits its card through the platform's <see cref="IChatChannel"/>, and runs the runbook once four
/// roles have signed — rendering the engine's events into the card's thread. It re-implements none of the engine: the
/// runbook runner, the rollback runner and <see cref="ExecutionControl"/> do the work.
/// </summary>
public sealed class Conductor(
    DeploymentStore store,
    IChatChannel channel,
    MigrationCatalog catalog,
    Targets targets,
    RoleHolders holders,
    ExecutionOptions execution,
    MonitoringOptions monitoring,
    TimeProvider time,
    ILogger<Conductor> logger)
{
    // One change at a time: every handler loads, changes and saves a deployment under this gate.
    private readonly SemaphoreSlim _gate = new(1, 1);
    // One replica for now: the runs this process started (issue 13 makes the running deployment survive a restart).
    private readonly ConcurrentDictionary<int, (ExecutionControl Control, Task Run)> _running = new();
    private readonly DeploymentPermissions _permissions = store.Permissions;
    private readonly ConcurrentDictionary<int, MessageReference> _cards = new();
    // Rollback prompts awaiting ⏪ from a permitted person: by deployment, with the prompt's message and when it lapses.
    private readonly ConcurrentDictionary<int, (string Prompt, DateTimeOffset Until)> _rollbackPrompts = new();

    /// <summary>How long a rollback prompt waits for its ⏪.</summary>
    public static readonly TimeSpan RollbackPromptValidFor = TimeSpan.FromMinutes(5);

    /// <summary>The card of <paramref name="id"/> (what the local channel's <c>react … D-n</c> points at), or null when there is none.</summary>
    public MessageReference? CardOf(DeploymentId id) => _cards.TryGetValue(id.Number, out var card) ? card : null;

    /// <summary>Reads the cards of deployments still active (posted before a restart) once, at start-up: <see cref="CardOf"/> never waits on the database.</summary>
    public async Task LoadCardsAsync(CancellationToken cancellationToken)
    {
        foreach (var (id, card) in await store.ActiveCardsAsync(cancellationToken))
            _cards[id.Number] = card;
    }

    private DateTimeOffset Now => time.GetUtcNow();

    /// <summary>The runs started by sign-offs, for a caller that waits for them (tests, shutdown).</summary>
    public IReadOnlyCollection<Task> Runs => _running.Values.Select(r => r.Run).ToList();

    public async Task HandleAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            switch (chatEvent)
            {
                case CommandReceived command:
                    await CommandAsync(command, cancellationToken);
                    break;
                case ReactionAdded added:
                    await ReactionAsync(added.UserId, added.Message, added.Emoji, added.EmojiName, removed: false, cancellationToken);
                    break;
                case ReactionRemoved removedReaction:
                    await ReactionAsync(removedReaction.UserId, removedReaction.Message, removedReaction.Emoji, removedReaction.EmojiName, removed: true, cancellationToken);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // One event that fails (the target busy, the state database gone) must not take the bot down: it is said where it was asked.
            var why = ex is Npgsql.NpgsqlException npgsql ? TargetFailure.Classify(npgsql)?.Message ?? npgsql.Message : ex.Message;
            logger.LogError(ex, "handling {Event} failed", chatEvent.GetType().Name);
            await channel.ReplyToUserAsync(chatEvent is CommandReceived c ? c.Caller : new Caller(chatEvent.ChannelId, chatEvent.UserId), new ChatMessage($"⚠️ that did not work: {why}"), CancellationToken.None);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task CommandAsync(CommandReceived command, CancellationToken cancellationToken)
    {
        var parsed = MigrateGrammar.Parse(command.Text);
        if (!parsed.Succeeded)
        {
            await TellAsync(command, "⚠️ " + parsed.Error.ToPlainText(), cancellationToken);
            return;
        }
        switch (parsed.Command)
        {
            case MigrateCommand.Help:
                await TellAsync(command, MigrateGrammar.HelpAsPlainText(), cancellationToken);
                return;
            case MigrateCommand.List:
                var latest = await store.LatestByMigrationAsync(cancellationToken);
                await SayAsync(command.ChannelId, "Migrations:\n" + string.Join("\n", catalog.List().Select(m => latest.TryGetValue(m.Id, out var last)
                    ? $"  {m.Id} — last deployment {last.Id}: {Deployment.Describe(last.State)}"
                    : $"  {m.Id} — never deployed from here")), cancellationToken);
                return;
            case MigrateCommand.Plan plan:
                await PlanAsync(command.ChannelId, plan.Migration, cancellationToken);
                return;
            case MigrateCommand.Start start:
                await StartAsync(command, start, cancellationToken);
                return;
            case DeploymentCommand control:
                await ControlAsync(command, control, cancellationToken);
                return;
        }
    }

    private async Task PlanAsync(string channelId, string migration, CancellationToken cancellationToken)
    {
        MigrationFiles files;
        try
        {
            files = catalog.Find(migration);
        }
        catch (MigrationNotFoundException ex)
        {
            await SayAsync(channelId, $"⚠️ {ex.Message}", cancellationToken);
            return;
        }
        var script = await MigrationCatalog.ReadAsync(files.SqlPath, cancellationToken);
        var plan = MigrationPlan.For(files.Id, script.Sha256, SqlScript.Parse(script.Text));
        var lines = plan.Statements.Select(s => $"  #{s.Statement.Number} line {s.Statement.Line}: {s.Statement.Summary(60)} — {s.StrongestLock}");
        var warnings = plan.Warnings.Select(w => $"  {w.Warning.Level.ToString().ToLowerInvariant()} line {w.Statement.Statement.Line} [{w.Warning.Rule}] {w.Warning.Message}");
        await SayAsync(channelId, $"Plan for {files.Id}: {plan.Statements.Count} statements · strongest lock {plan.StrongestLock}\n" +
                                  string.Join("\n", lines.Concat(warnings)), cancellationToken);
    }

    private async Task StartAsync(CommandReceived command, MigrateCommand.Start start, CancellationToken cancellationToken)
    {
        if (_permissions.Refusal(command.UserId, DeploymentAction.Start) is { } refusal)
        {
            await TellAsync(command, $"⛔ {refusal}", cancellationToken);
            return;
        }
        MigrationFiles files;
        try
        {
            files = catalog.Find(start.Migration);
        }
        catch (MigrationNotFoundException ex)
        {
            await TellAsync(command, $"⚠️ {ex.Message}", cancellationToken);
            return;
        }
        var (target, error) = targets.Resolve(start.Target);
        if (target is null)
        {
            await TellAsync(command, $"⚠️ {error}", cancellationToken);
            return;
        }

        // What runs is exactly these bytes, whatever happens to the files later.
        var pinned = new PinnedMigration(files.Id, await PinAsync(files.SqlPath, cancellationToken),
            files.RollbackPath is null ? null : await PinAsync(files.RollbackPath, cancellationToken),
            files.RunbookPath is null ? null : await PinAsync(files.RunbookPath, cancellationToken));
        var id = await store.NextIdAsync(cancellationToken);
        var deployment = new Deployment(id, pinned, ConnectionStrings.Describe(target), command.UserId, command.ChannelId, holders, store.Policy, Now, _permissions);

        // The card shows the checks as they are now; the run checks again before it touches anything.
        var plan = MigrationPlan.For(files.Id, pinned.Sql.Sha256, SqlScript.Parse(Encoding.UTF8.GetString(pinned.Sql.Bytes)));
        IReadOnlyList<CheckResult> checks;
        try
        {
            await using var session = await TargetSession.OpenAsync(target, $"chatops:{id}:card", cancellationToken);
            checks = await PreDeploymentChecks.RunAsync(session, plan, Runbook(pinned), execution.LockTimeout, cancellationToken, execution.OldSnapshotWarning);
        }
        catch (Npgsql.NpgsqlException ex)
        {
            checks = [new CheckResult("target reachable", CheckStatus.Fail, TargetFailure.Classify(ex)?.Message ?? ex.Message), .. Checklist.ManualItems];
        }
        deployment.AwaitApproval(Now, checks.All(c => c.Status != CheckStatus.Fail));
        await store.SaveAsync(deployment, cancellationToken);
        var card = await channel.PostAsync(command.ChannelId, Card(deployment, plan, checks), cancellationToken);
        await store.SetCardAsync(id, card.MessageId, checks, cancellationToken);
        _cards[id.Number] = card;
        logger.LogInformation("{Deployment} of {Migration} requested by {User}", id, files.Id, command.UserId);
    }

    private async Task ControlAsync(CommandReceived command, DeploymentCommand control, CancellationToken cancellationToken)
    {
        Deployment? deployment;
        if (control.Deployment is { } id)
            deployment = await store.LoadAsync(id, cancellationToken);
        else
        {
            var active = await store.ActiveInAsync(command.ChannelId, cancellationToken);
            if (active.Count != 1)
            {
                await TellAsync(command, active.Count == 0
                    ? "⚠️ no active deployment in this channel: name one (D-n)"
                    : $"⚠️ several active deployments here: name one of {string.Join(", ", active.Select(d => d.Id))}", cancellationToken);
                return;
            }
            deployment = active[0];
        }
        if (deployment is null)
        {
            await TellAsync(command, $"⚠️ no deployment {control.Deployment}", cancellationToken);
            return;
        }

        var user = command.UserId;
        string answer;
        switch (control)
        {
            case MigrateCommand.Status:
                await SayAsync(command.ChannelId, PlainTextRenderer.Render(await CardAsync(deployment, cancellationToken)), cancellationToken);
                return;
            case MigrateCommand.History:
                await SayAsync(command.ChannelId, $"{deployment.Id} audit trail, most recent first:\n" + string.Join("\n",
                    deployment.Audit.Reverse().Select(a => $"  {a.At:yyyy-MM-dd HH:mm:ss}Z {a.Who}: {a.What}{(a.Counted ? "" : " (not counted)")}")), cancellationToken);
                return;
            case MigrateCommand.Approve:
                answer = await SignAsync(deployment, user, cancellationToken);
                break;
            case MigrateCommand.Revoke:
                answer = deployment.Revoke(user, Now).Why;
                break;
            case MigrateCommand.Pause:
                var paused = deployment.Pause(user, Now);
                if (paused.Done) Control(deployment)?.Pause();
                answer = paused.Done ? paused.Why : $"pause refused: {paused.Why}";
                break;
            case MigrateCommand.Resume:
                var resumed = deployment.Resume(user, Now);
                if (resumed.Done) Control(deployment)?.Resume();
                answer = resumed.Done ? resumed.Why : $"resume refused: {resumed.Why}";
                break;
            case MigrateCommand.Abort:
                var aborted = deployment.Abort(user, Now);
                if (aborted.Done) Control(deployment)?.Cancel();
                answer = aborted.Why;
                break;
            case MigrateCommand.Rollback rollback:
                (answer, deployment) = await RollbackAsync(deployment, user, rollback.Confirmed, cancellationToken);
                break;
            default:
                return;
        }
        await store.SaveAsync(deployment, cancellationToken);
        await EditCardAsync(deployment, cancellationToken);
        await SayAsync(command.ChannelId, $"{deployment.Id}: {answer}", cancellationToken);
    }

    private async Task ReactionAsync(string user, MessageReference message, ReactionEmoji emoji, string emojiName, bool removed, CancellationToken cancellationToken)
    {
        if (user == channel.BotUserId)
            return;   // the bot's own reactions (the ⏪ it puts on a prompt) sign and confirm nothing
        var prompted = _rollbackPrompts.FirstOrDefault(p => p.Value.Prompt == message.MessageId);
        var id = prompted.Value.Prompt is not null ? new DeploymentId(prompted.Key) : await store.ByCardAsync(message.MessageId, cancellationToken);
        if (id is null || await store.LoadAsync(id.Value, cancellationToken) is not { } deployment)
            return;   // a reaction on another message: not ours to count
        if (emoji == ReactionEmoji.Rollback && !removed)
        {
            // ⏪ confirms a pending rollback prompt (on the prompt, or on the card where a platform cannot react on the prompt).
            var pending = _rollbackPrompts.TryGetValue(deployment.Id.Number, out var prompt) && prompt.Until > Now;
            var said = "⏪ with no rollback prompt pending (or it lapsed after 5 minutes): type /migrate rollback first";
            if (pending)
                (said, deployment) = await RollbackAsync(deployment, user, confirmed: true, cancellationToken);
            if (!pending)
                deployment.Ignored(user, $"reaction {emojiName}: {said}", Now);
            await store.SaveAsync(deployment, cancellationToken);
            await EditCardAsync(deployment, cancellationToken);
            await SayAsync(deployment.Channel, $"{deployment.Id}: {said}", cancellationToken);
            return;
        }
        if (prompted.Value.Prompt is not null)
            return;   // other reactions on a prompt mean nothing
        if (emoji != ReactionEmoji.SignOff)
        {
            deployment.Ignored(user, $"reaction {emojiName} on the card: not the sign-off emoji", Now);
            await store.SaveAsync(deployment, cancellationToken);
            return;
        }
        var answer = removed ? deployment.Revoke(user, Now).Why : await SignAsync(deployment, user, cancellationToken);
        await store.SaveAsync(deployment, cancellationToken);
        await EditCardAsync(deployment, cancellationToken);
        logger.LogInformation("{Deployment}: {Answer}", deployment.Id, answer);
    }

    /// <summary>A sign-off; the fourth role covered (with the checks passing) starts the run.</summary>
    private async Task<string> SignAsync(Deployment deployment, string user, CancellationToken cancellationToken)
    {
        // A file changed on disk before execution voids every sign-off: the card says why.
        foreach (var (file, path) in Files(deployment))
        {
            if (File.Exists(path) && Sha256(await File.ReadAllBytesAsync(path, cancellationToken)) is var now && now != file.Sha256)
                deployment.FileChanged(file.Name, now, Now);
        }
        var outcome = deployment.SignOff(user, Now);
        if (deployment.State == DeploymentState.Approved)
        {
            // The card shows the approval (and who covered which role) before execution starts.
            await store.SaveAsync(deployment, cancellationToken);
            await EditCardAsync(deployment, cancellationToken);
            StartRun(deployment);
        }
        return outcome.Why;
    }

    private IEnumerable<(PinnedFile File, string Path)> Files(Deployment deployment)
    {
        var files = catalog.Find(deployment.Migration.Id);
        yield return (deployment.Migration.Sql, files.SqlPath);
        if (deployment.Migration.Rollback is { } rollback && files.RollbackPath is { } rollbackPath)
            yield return (rollback, rollbackPath);
        if (deployment.Migration.Runbook is { } runbook && files.RunbookPath is { } runbookPath)
            yield return (runbook, runbookPath);
    }

    private void StartRun(Deployment approved)
    {
        var id = approved.Id;
        var control = new ExecutionControl();
        approved.Begin(Now);
        var run = Task.Run(() => RunAsync(id, control));
        _running[id.Number] = (control, run);
    }

    private ExecutionControl? Control(Deployment deployment) =>
        _running.TryGetValue(deployment.Id.Number, out var running) ? running.Control : null;

    /// <summary>The runbook, its events in the card's thread, its verdict on the card.</summary>
    private async Task RunAsync(DeploymentId id, ExecutionControl control)
    {
        var cancellationToken = CancellationToken.None;
        try
        {
            Deployment deployment;
            string cardId;
            await _gate.WaitAsync(cancellationToken);
            try
            {
                deployment = (await store.LoadAsync(id, cancellationToken))!;
                cardId = (await store.CardAsync(id, cancellationToken)).CardMessage!;
                await store.SaveAsync(deployment, cancellationToken);
                await EditCardAsync(deployment, cancellationToken);
            }
            finally
            {
                _gate.Release();
            }
            var card = new MessageReference(deployment.Channel, cardId);
            var target = TargetFor(deployment);

            // The runner calls back on its own threads: events queue here and are posted in order by one reader.
            var thread = System.Threading.Channels.Channel.CreateUnbounded<RunbookEvent>(new() { SingleReader = true });
            var poster = Task.Run(async () =>
            {
                await foreach (var e in thread.Reader.ReadAllAsync(cancellationToken))
                {
                    if (e is PhaseStarted started)
                        await EnterPhaseAsync(id, started.Phase, cancellationToken);
                    if (ThreadLine(e) is { } line)
                        await channel.ReplyInThreadAsync(card, new ChatMessage(line), cancellationToken);
                }
            }, cancellationToken);

            var pinned = deployment.Migration;
            var result = await new RunbookRunner(execution, monitoring, time).RunAsync(new RunbookRequest(target, pinned.Id, pinned.Sql.Sha256,
                SqlScript.Parse(Encoding.UTF8.GetString(pinned.Sql.Bytes)), Runbook(pinned), $"{id}-{Now:HHmmss}", e => thread.Writer.TryWrite(e),
                control, AppliedBy: $"{deployment.Requester} ({id}, signed by {string.Join(", ", deployment.SignOffs.Signers.Keys)})"), cancellationToken);
            thread.Writer.Complete();
            await poster;

            await _gate.WaitAsync(cancellationToken);
            try
            {
                deployment = (await store.LoadAsync(id, cancellationToken))!;
                deployment.Finished(result.Succeeded, result.Reasons, Now);
                await store.SaveAsync(deployment, cancellationToken);
                await EditCardAsync(deployment, cancellationToken);
            }
            finally
            {
                _gate.Release();
            }
            await channel.ReplyInThreadAsync(card, new ChatMessage(result.Succeeded ? "🟢 VERDICT: SUCCESS" : "🔴 VERDICT: FAILED")
            {
                Fields = result.Reasons.Select(r => new MessageField("reason", r)).ToList(),
                Footer = result.Succeeded || pinned.Rollback is null ? null : $"To roll back: /migrate rollback {id} --confirm",
            }, cancellationToken);
        }
        catch (Exception ex)
        {
            // A run that dies must still say so where people look.
            logger.LogError(ex, "{Deployment}: the run stopped", id);
        }
    }

    /// <summary>The card follows the run's phases (and the audit says when each started).</summary>
    private async Task EnterPhaseAsync(DeploymentId id, RunbookPhase phase, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (await store.LoadAsync(id, cancellationToken) is not { State: DeploymentState.Running or DeploymentState.Paused } deployment)
                return;   // a rollback or an abort has taken over: the card says so already
            deployment.EnterPhase(phase, Now);
            await store.SaveAsync(deployment, cancellationToken);
            await EditCardAsync(deployment, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The configured target the deployment was started on. Never a fallback: a target no longer configured is an error, not another database.</summary>
    private string TargetFor(Deployment deployment) =>
        new[] { targets.Default }.Concat(targets.Named.Values).FirstOrDefault(cs => cs is not null && ConnectionStrings.Describe(cs) == deployment.Target)
        ?? throw new InvalidOperationException($"{deployment.Id}'s target {deployment.Target} is no longer configured (ConnectionStrings:Target, ChatOps:Targets)");

    /// <returns>What to say, and the deployment as it is now (reloaded when a forward run had to end first).</returns>
    private async Task<(string Answer, Deployment Deployment)> RollbackAsync(Deployment deployment, string user, bool confirmed, CancellationToken cancellationToken)
    {
        var outcome = deployment.Rollback(user, confirmed, Now);
        if (!outcome.Done)
        {
            if (!confirmed && deployment.Audit[^1].What.StartsWith("rollback requested", StringComparison.Ordinal))
            {
                // The prompt people can answer with ⏪; the bot's own ⏪ is there to click.
                var prompt = await channel.PostAsync(deployment.Channel, new ChatMessage($"⏪ Roll back {deployment.Id} ({deployment.Migration.Id})?",
                    $"requested by {user}: a Database Administrator or DevOps/SRE Lead reacts ⏪ within 5 minutes, or types /migrate rollback {deployment.Id} --confirm")
                {
                    Mentions = [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)],
                }, cancellationToken);
                await channel.AddReactionAsync(prompt, ReactionEmoji.Rollback, cancellationToken);
                _rollbackPrompts[deployment.Id.Number] = (prompt.MessageId, Now + RollbackPromptValidFor);
            }
            return (outcome.Why, deployment);
        }
        _rollbackPrompts.TryRemove(deployment.Id.Number, out _);
        // Stored before the forward run is stopped: its end must see that a rollback decides what it means.
        await store.SaveAsync(deployment, cancellationToken);
        await EditCardAsync(deployment, cancellationToken);
        // Never both at once: the forward run is cancelled and awaited first.
        if (_running.TryGetValue(deployment.Id.Number, out var running))
        {
            running.Control.Cancel();
            _gate.Release();
            try { await running.Run; } finally { await _gate.WaitAsync(cancellationToken); }
            deployment = (await store.LoadAsync(deployment.Id, cancellationToken))!;
        }
        var target = TargetFor(deployment);
        var rollback = deployment.Migration.Rollback!;
        RollbackResult result;
        try
        {
            result = await new RollbackRunner(execution, time).RunAsync(new RollbackRequest(target, deployment.Migration.Id, rollback.Sha256,
                SqlScript.Parse(Encoding.UTF8.GetString(rollback.Bytes)), $"{deployment.Id}-rollback", _ => { }, AppliedBy: $"{user} ({deployment.Id})", Force: true),
                cancellationToken);
        }
        catch (Exception ex) when (ex is TargetBusyException or Npgsql.NpgsqlException)
        {
            // It never started (another run holds the target, or the target is gone): said, and a rollback can be asked again.
            var why = ex is Npgsql.NpgsqlException npgsql ? TargetFailure.Classify(npgsql)?.Message ?? npgsql.Message : ex.Message;
            deployment.RollbackFinished(false, $"the rollback could not run: {why}", Now);
            return ($"the rollback could not run: {why}. Ask again with /migrate rollback {deployment.Id} --confirm", deployment);
        }
        deployment.RollbackFinished(result.Succeeded, result.Succeeded ? $"{result.Checks.Count} effect(s) verified"
            : result.Execution?.Failure?.Message ?? string.Join("; ", result.Checks.Where(c => !c.Holds).Select(c => c.What)), Now);
        return (outcome.Why + (result.Succeeded ? " — rolled back and verified" : " — the rollback failed"), deployment);
    }

    private async Task EditCardAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var (cardId, _) = await store.CardAsync(deployment.Id, cancellationToken);
        if (cardId is not null)
            await channel.EditAsync(new MessageReference(deployment.Channel, cardId), await CardAsync(deployment, cancellationToken), cancellationToken);
    }

    private async Task<ChatMessage> CardAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var (_, checks) = await store.CardAsync(deployment.Id, cancellationToken);
        var plan = MigrationPlan.For(deployment.Migration.Id, deployment.Migration.Sql.Sha256, SqlScript.Parse(Encoding.UTF8.GetString(deployment.Migration.Sql.Bytes)));
        return Card(deployment, plan, checks);
    }

    private ChatMessage Card(Deployment deployment, MigrationPlan plan, IReadOnlyList<CheckResult> checks)
    {
        var now = Now;
        var assignment = deployment.SignOffs.Assignment(now);
        var signers = assignment.ToDictionary(a => a.Key, a => new RoleSigner(a.Value, deployment.SignOffs.Signers[a.Value]));
        var signing = deployment.State is DeploymentState.AwaitingApproval or DeploymentState.Approved;
        return CardRenderer.Render(new DeploymentCard(deployment.Id, deployment.Migration.Id, deployment.Migration.Sql.Sha256, deployment.Target,
            deployment.Requester, signing ? null : StateLine(deployment), Next(deployment), PlanSummary.Of(plan), checks, signers, deployment.VoidedBecause));
    }

    private static string StateLine(Deployment d) => d.State switch
    {
        DeploymentState.Running => $"▶️ RUNNING · {d.Phase?.Title() ?? "starting"}",
        DeploymentState.Paused => $"⏸️ PAUSED · {d.Phase?.Title()}",
        DeploymentState.Completed => "🟢 COMPLETED",
        DeploymentState.Failed => "🔴 FAILED",
        DeploymentState.RollingBack => "⏪ ROLLING BACK",
        DeploymentState.RolledBack => "⏪ ROLLED BACK",
        DeploymentState.RollbackFailed => "❌ ROLLBACK FAILED",
        DeploymentState.Aborted => "⏹️ ABORTED",
        _ => Deployment.Describe(d.State).ToUpperInvariant(),
    };

    private static string Next(Deployment d) => d.State switch
    {
        DeploymentState.AwaitingApproval => "runs as soon as the four roles have signed and the checks pass",
        DeploymentState.Approved => "starting the runbook",
        DeploymentState.Running or DeploymentState.Paused => "events in this card's thread; /migrate pause | resume | abort | rollback",
        DeploymentState.Failed => "see the reasons in the thread; /migrate rollback --confirm to undo",
        DeploymentState.Completed => "done: the verdict is in the thread",
        _ => "nothing more happens",
    };

    /// <summary>What the thread shows of a runbook event (samples and threshold noise stay out; the card shows the state).</summary>
    private static string? ThreadLine(RunbookEvent e) => e switch
    {
        PhaseStarted p => $"── {p.Phase.Title()} ──",
        PhaseFinished p => $"{(p.Ok ? "✓" : "✗")} {p.Phase.Title()} in {Durations.Short(p.Duration)}: {p.Summary}",
        CheckCompleted { Check.Status: CheckStatus.Fail or CheckStatus.Warn } c => $"{(c.Check.Status == CheckStatus.Fail ? "❌" : "⚠️")} {c.Check.Name}: {c.Check.Detail}",
        ExecutionReported { Execution: StatementFinished f } => $"✓ #{f.Statement.Number} line {f.Statement.Line} in {Durations.Short(f.Duration)}" +
            (f.LockWait > TimeSpan.Zero ? $" (waited {Durations.Short(f.LockWait)} for locks)" : "") + $": {f.Statement.Summary(60)}",
        ExecutionReported { Execution: WaitingForBlockers w } => $"⏳ #{w.Statement.Number} waits for {string.Join("; ", w.Blockers.Select(b => b.Describe()))}",
        ExecutionReported { Execution: NoticeReceived n } => $"  {n.Severity}: {n.Message}",
        ExecutionReported { Execution: StatementFailed f } => $"✗ #{f.Statement.Number} line {f.Statement.Line} failed: {f.Message}",
        ThresholdReported { Threshold: ThresholdBreached b } => $"🚨 {b.Rule.Describe()}",
        HistoryConsulted h => $"📜 {h.Decision.Describe()}",
        _ => null,
    };

    private static MigrationRunbook Runbook(PinnedMigration pinned) => pinned.Runbook is { } runbook
        ? MigrationRunbook.Parse(Encoding.UTF8.GetString(runbook.Bytes), runbook.Name)
        : MigrationRunbook.Empty;

    private static async Task<PinnedFile> PinAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        return new PinnedFile(Path.GetFileName(path), Sha256(bytes), bytes);
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>An answer for the caller alone (errors, refusals, help).</summary>
    private Task TellAsync(CommandReceived command, string text, CancellationToken cancellationToken) =>
        channel.ReplyToUserAsync(command.Caller, new ChatMessage(text), cancellationToken);

    private Task SayAsync(string channelId, string text, CancellationToken cancellationToken) =>
        channel.PostAsync(channelId, new ChatMessage(text), cancellationToken);
}
