using System.Text;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// The deployment's messages, written to the outbox: its card as it is now, replies in the card's thread, and the rollback prompt.
/// The conversation (after a command or a reaction) and the owner of a run (after a phase, a verdict, a rollback) both write them
/// through here, in the transaction of the change they show.
/// </summary>
public sealed class DeploymentCards(DeploymentStore store, Outbox outbox, TimeProvider time)
{
    /// <summary>A reply in the card's thread (nothing when the deployment has no card).</summary>
    public async Task ThreadAsync(StateScope scope, Deployment deployment, ChatMessage message, CancellationToken cancellationToken)
    {
        var (cardKey, _) = await store.CardAsync(deployment.Id, cancellationToken, scope);
        if (cardKey is not null)
            await outbox.ReplyAsync(scope, deployment.Platform, new MessageReference(deployment.Channel, cardKey), message, cancellationToken, deployment.Id.Number);
    }

    /// <summary>
    /// The prompt people answer with ⏪ (the bot's own ⏪ on it is there to click), calling on the roles that may roll back; it lapses
    /// after <paramref name="validFor"/> (default <see cref="Conductor.RollbackPromptValidFor"/>).
    /// </summary>
    /// <param name="why">Why a rollback is asked for ("requested by dan", "the verdict failed").</param>
    /// <param name="rollsBackWhenLapsed">A rollback trigger's prompt: unanswered when it lapses, the bot rolls back itself.</param>
    public async Task PromptRollbackAsync(StateScope scope, Deployment deployment, string why, CancellationToken cancellationToken, TimeSpan? validFor = null,
        bool rollsBackWhenLapsed = false)
    {
        var lapse = validFor ?? Conductor.RollbackPromptValidFor;
        var within = lapse > TimeSpan.FromDays(365) ? "" : $" within {InWords(lapse)}";
        var then = rollsBackWhenLapsed ? $"; unanswered, the bot rolls back at {time.GetUtcNow() + lapse:HH:mm:ss}Z (/migrate resume {deployment.Id} keeps going)" : "";
        var prompt = await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, new ChatMessage($"⏪ Roll back {deployment.Id} ({deployment.Migration.Id})?",
            $"{why}: a Database Administrator or DevOps/SRE Lead reacts ⏪{within}, or types /migrate rollback {deployment.Id} --confirm{then}")
        {
            Mentions = [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)],
        }, cancellationToken, deployment.Id.Number);
        await ArmRollbackPromptAsync(scope, deployment, prompt, lapse, rollsBackWhenLapsed, cancellationToken);
    }

    /// <summary>
    /// Makes <paramref name="message"/> the deployment's rollback prompt: the bot's ⏪ on it to click, ⏪ by a permitted person within
    /// <paramref name="validFor"/> rolls back (and, when <paramref name="rollsBackWhenLapsed"/>, the bot does when nobody answers).
    /// </summary>
    public async Task ArmRollbackPromptAsync(StateScope scope, Deployment deployment, MessageReference message, TimeSpan validFor, bool rollsBackWhenLapsed,
        CancellationToken cancellationToken)
    {
        await outbox.ReactAsync(scope, deployment.Platform, message, ReactionEmoji.Rollback, cancellationToken);
        await store.SetRollbackPromptAsync(scope, deployment.Id, message.MessageId, time.GetUtcNow() + validFor, cancellationToken, rollsBackWhenLapsed);
    }

    /// <summary>"5 minutes", "30 s".</summary>
    public static string InWords(TimeSpan span) => span.TotalMinutes is >= 1 and var m && m == Math.Floor(m)
        ? $"{m:0} minute{(m == 1 ? "" : "s")}"
        : Durations.Short(span);

    /// <summary>Writes the card's new version to the outbox in <paramref name="scope"/>; nothing when it has no card yet.</summary>
    public async Task EditAsync(StateScope scope, Deployment deployment, CancellationToken cancellationToken)
    {
        var (cardKey, _) = await store.CardAsync(deployment.Id, cancellationToken, scope);
        if (cardKey is not null)
            await outbox.EditAsync(scope, deployment.Platform, new MessageReference(deployment.Channel, cardKey), await RenderAsync(deployment, cancellationToken, scope),
                cancellationToken, deployment.Id.Number);
    }

    /// <summary>The card's message for the deployment as stored (its checks, what the database holds).</summary>
    public async Task<ChatMessage> RenderAsync(Deployment deployment, CancellationToken cancellationToken, StateScope? scope = null)
    {
        var (_, checks) = await store.CardAsync(deployment.Id, cancellationToken, scope);
        return Render(deployment, checks, await store.DatabaseStateAsync(deployment.Id, cancellationToken, scope));
    }

    /// <summary>The pinned migration's plan: parsed once per migration and hash (the card is rendered again on every sign-off).</summary>
    public static MigrationPlan PlanOf(PinnedMigration migration)
    {
        var key = (migration.Id, migration.Sql.Sha256);
        return Plans.TryGet(key, out var plan)
            ? plan
            : Plans.Keep(key, MigrationPlan.For(migration.Id, migration.Sql.Sha256, SqlScript.Parse(Encoding.UTF8.GetString(migration.Sql.Bytes))));
    }

    private static readonly ChatOps.Core.Caching.BoundedCache<(string Migration, string Sha256), MigrationPlan> Plans = new(64);

    public ChatMessage Render(Deployment deployment, IReadOnlyList<CheckResult> checks, string? databaseState = null)
    {
        var now = time.GetUtcNow();
        var assignment = deployment.SignOffs.Assignment(now);
        var signers = assignment.ToDictionary(a => a.Key, a => new RoleSigner(a.Value, deployment.SignOffs.Signers[a.Value].At));
        var signing = deployment.State is DeploymentState.AwaitingApproval or DeploymentState.Approved;
        var state = signing ? null : StateLine(deployment) + (databaseState is null ? "" : $" · {databaseState}");
        return CardRenderer.Render(new DeploymentCard(deployment.Id, deployment.Migration.Id, deployment.Migration.Sql.Sha256, deployment.Target,
            deployment.Requester, state, Next(deployment), PlanSummary.Of(PlanOf(deployment.Migration)), checks, signers, deployment.VoidedBecause));
    }

    private static string StateLine(Deployment d) => d.State switch
    {
        DeploymentState.Running => $"▶️ RUNNING · {d.Phase?.Title() ?? "starting"}",
        DeploymentState.Paused => $"⏸️ PAUSED · {d.Phase?.Title()}",
        DeploymentState.Monitoring => "🟢 DEPLOYED · post-deployment monitoring",
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
        DeploymentState.AwaitingApproval when d.Window is { } window =>
            $"scheduled for the maintenance window {MaintenanceWindow.Describe(window)}: runs then if the four roles have signed and the checks pass",
        DeploymentState.Approved when d is { WaitsForWindow: true, Window: { } window } =>
            $"approved: starts when the maintenance window opens, {MaintenanceWindow.Describe(window)}",
        DeploymentState.AwaitingApproval => "runs as soon as the four roles have signed and the checks pass",
        DeploymentState.Approved => "starting the runbook",
        DeploymentState.Running or DeploymentState.Paused => "events in this card's thread; /migrate pause | resume | abort | rollback",
        DeploymentState.Failed => "see the reasons in the thread; /migrate rollback --confirm to undo",
        DeploymentState.Monitoring => "the rollback triggers are watched, status in the thread; the performance report at the end; /migrate rollback --confirm to undo",
        DeploymentState.Completed => "done: the verdict and the report are in the thread",
        DeploymentState.Aborted when d.ExecutionStarted && d.Migration.Rollback is not null => "stopped without rolling back; /migrate rollback --confirm to undo what ran",
        _ => "nothing more happens",
    };
}
