using ChatOps.Bot.Conversation;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;

namespace ChatOps.Bot.Scheduling;

/// <summary>
/// What the scheduled jobs do for a deployment started with <c>--window</c> (issue 14 §5):
/// <list type="bullet">
/// <item><b>Reminder</b> (24 hours before the window, or at once when that has passed): a channel message calling on the four
/// roles with the scheduled time and who still has to sign.</item>
/// <item><b>Window start</b>: approved (sign-offs still valid) and the pre-deployment checks passing now — the window opens for it
/// and its owner starts the runbook. Otherwise it is <b>postponed to the next window</b> (reminder and start scheduled again) and
/// the thread and the channel say why: the roles still missing, the checks failing, or the window already over when a replica
/// could look (none was running). It stays postponable until someone signs, fixes the checks, or aborts it.</item>
/// </list>
/// Each job looks at the deployment as the state database has it now: a job whose deployment is gone, finished, or no longer
/// waiting for a window does nothing, so a job fired twice (a node's recovery) or left by a rolled-back transaction is harmless.
/// </summary>
public sealed class WindowWork(
    DeploymentStore store,
    Outbox outbox,
    DeploymentCards cards,
    Targets targets,
    ExecutionOptions execution,
    MaintenanceWindow? window,
    IDeploymentSchedule? schedule,
    TimeProvider time,
    ILogger<WindowWork> logger) : IScheduledWork
{
    // 'CHSW': a deployment's scheduling lock, (class, deployment number).
    private const int ScheduleLock = 0x43485357;

    /// <summary>Raised after a window opened for a deployment (its owner starts it).</summary>
    public event Action? OwnerWanted;

    /// <summary>
    /// Held, in <paramref name="scope"/>'s transaction, by whoever schedules a deployment's jobs before committing (the conductor's
    /// <c>start --window</c>, a postponement) and by every job before it reads the deployment: a job due at once waits for the
    /// transaction that scheduled it, and then sees what it committed (or, rolled back, nothing to do).
    /// </summary>
    public static Task HoldAsync(StateScope scope, DeploymentId id, CancellationToken cancellationToken) =>
        scope.ExecuteAsync("SELECT pg_advisory_xact_lock($1, $2)", cancellationToken, ScheduleLock, id.Number);

    public Task RunAsync(DeploymentJobKind kind, DeploymentId deployment, DateTimeOffset scheduledFor, CancellationToken cancellationToken) => kind switch
    {
        DeploymentJobKind.Reminder => RemindAsync(deployment, cancellationToken),
        DeploymentJobKind.WindowStart => WindowStartsAsync(deployment, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no work for this kind of job"),
    };

    /// <summary>What the card's thread says when a deployment is scheduled into <paramref name="scheduled"/>.</summary>
    public static ChatMessage Scheduled(Deployment deployment, ScheduledWindow scheduled, DateTimeOffset reminder, MaintenanceWindow window) =>
        new($"🗓️ {deployment.Id} is scheduled for the maintenance window", MaintenanceWindow.Describe(scheduled))
        {
            Fields =
            [
                new MessageField("starts", window.Describe(scheduled.Start)),
                new MessageField("ends", window.Describe(scheduled.End)),
                new MessageField("reminder", window.Describe(reminder)),
            ],
            Footer = "It runs when the window opens if the four roles have signed and the checks pass; otherwise it is postponed to the next " +
                     $"window. Signing before then does not start it. /migrate abort {deployment.Id} calls it off.",
        };

    private async Task RemindAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var scope = await store.BeginAsync(cancellationToken);
        await HoldAsync(scope, id, cancellationToken);
        if (await store.LoadForUpdateAsync(scope, id, cancellationToken) is not { IsActive: true, WaitsForWindow: true, Window: { } scheduled } deployment)
            return;
        var missing = deployment.MissingRoles(now);
        var status = missing.Count == 0 && deployment.State == DeploymentState.Approved
            ? "🟢 approved: it starts when the window opens"
            : $"⏳ still to sign: {(missing.Count == 0 ? "none (the checks are failing)" : string.Join(", ", missing.Select(r => r.Title())))}";
        await outbox.PostAsync(scope, deployment.Platform, deployment.Channel,
            new ChatMessage($"⏰ Reminder: {deployment.Id} · {deployment.Migration.Id} → {deployment.Target} runs in the maintenance window", status)
            {
                Fields = [new MessageField("window", MaintenanceWindow.Describe(scheduled))],
                Mentions = Enum.GetValues<SignOffRole>().Select(r => (Mention)new Mention.RoleGroup(r)).ToList(),
                Footer = $"Sign with ✅ on its card or /migrate approve {deployment.Id}; /migrate abort {deployment.Id} calls it off.",
            }, cancellationToken, id.Number);
        await scope.CommitAsync(cancellationToken);
        logger.LogInformation("{Deployment}: reminder for the window at {Start:O} posted", id, scheduled.Start);
    }

    private async Task WindowStartsAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Core.Deployments.Deployment? found;
        await using (var look = await store.BeginAsync(cancellationToken))
        {
            await HoldAsync(look, id, cancellationToken);
            found = await store.LoadForUpdateAsync(look, id, cancellationToken);
            await look.CommitAsync(cancellationToken);
        }
        if (found is not { IsActive: true, WaitsForWindow: true, Window: { } scheduled })
            return;

        // Why it cannot start now; none: it starts.
        var reasons = new List<string>();
        IReadOnlyList<CheckResult>? checks = null;
        var missing = found.MissingRoles(now);
        if (now >= scheduled.End)
            reasons.Add($"the window had closed ({MaintenanceWindow.Describe(scheduled.End, Zone(scheduled))}) before a replica could start it: none was running");
        else if (found.State != DeploymentState.Approved || missing.Count > 0)
        {
            reasons.Add(missing.Count > 0
                ? $"not approved: still to sign — {string.Join(", ", missing.Select(r => r.Title()))}"
                : "not approved");
            if (!found.ChecksPass)
                reasons.Add("the pre-deployment checks failed when last run");
        }
        else
        {
            // Approved: the checks run again now, against the target as it is at the window's start.
            checks = await Conductor.CheckAsync(targets.ConnectionStringOf(found), id, found.Migration, execution, cancellationToken);
            var failed = checks.Where(c => c.Status == CheckStatus.Fail).ToList();
            if (failed.Count > 0)
                reasons.Add($"pre-deployment checks failing: {string.Join("; ", failed.Select(c => c.Detail.Length == 0 ? c.Name : $"{c.Name} ({c.Detail})"))}");
        }

        await using var scope = await store.BeginAsync(cancellationToken);
        await HoldAsync(scope, id, cancellationToken);
        if (await store.LoadForUpdateAsync(scope, id, cancellationToken) is not { IsActive: true, WaitsForWindow: true } deployment
            || deployment.Window != scheduled)
            return;   // changed while the checks ran (aborted, rescheduled): the newer state decides
        if (checks is not null)
        {
            var (cardKey, _) = await store.CardAsync(id, cancellationToken, scope);
            await store.SetCardAsync(id, cardKey, checks, cancellationToken, scope);
        }
        if (reasons.Count == 0)
        {
            deployment.OpenWindow(now);
            await store.SaveAsync(scope, deployment, cancellationToken);
            await cards.EditAsync(scope, deployment, cancellationToken);
            await cards.ThreadAsync(scope, deployment, new ChatMessage($"🪟 The maintenance window is open: {id} starts",
                $"until {MaintenanceWindow.Describe(scheduled.End, Zone(scheduled))}; no phase starts after that"), cancellationToken);
            scope.Committed += () => OwnerWanted?.Invoke();
            await scope.CommitAsync(cancellationToken);
            logger.LogInformation("{Deployment}: its maintenance window opened; it starts", id);
            return;
        }

        if (window is null || schedule is null)
        {
            // The window's configuration is gone (or this replica schedules nothing): nothing to postpone to; said, and it waits.
            await cards.ThreadAsync(scope, deployment, new ChatMessage($"⏸️ {id} could not start in its maintenance window",
                string.Join("; ", reasons)) { Footer = BotSettings.NoWindowConfigured }, cancellationToken);
            await scope.CommitAsync(cancellationToken);
            return;
        }
        var next = window.Next(now);
        var reminder = MaintenanceWindow.ReminderAt(now, next.Start);
        var why = string.Join("; ", reasons);
        deployment.Postpone(next, why, MaintenanceWindow.Describe(next), now);
        await store.SaveAsync(scope, deployment, cancellationToken);
        await cards.EditAsync(scope, deployment, cancellationToken);
        var postponed = new ChatMessage($"⏸️ {id} is postponed to the next maintenance window", MaintenanceWindow.Describe(next))
        {
            Fields = reasons.Select(r => new MessageField("why", r)).ToList(),
            Mentions = missing.Select(r => (Mention)new Mention.RoleGroup(r)).ToList(),
            Footer = $"It runs then if approved and the checks pass. /migrate abort {id} calls it off.",
        };
        await cards.ThreadAsync(scope, deployment, postponed, cancellationToken);
        await outbox.PostAsync(scope, deployment.Platform, deployment.Channel, postponed with { Title = $"⏸️ {id} · {deployment.Migration.Id} is postponed to the next maintenance window" },
            cancellationToken, id.Number);
        // Stored before the commit, as start --window does: a rollback leaves jobs that find nothing to do.
        await schedule.ScheduleAsync(DeploymentJobKind.Reminder, id, reminder, cancellationToken);
        await schedule.ScheduleAsync(DeploymentJobKind.WindowStart, id, next.Start, cancellationToken);
        await scope.CommitAsync(cancellationToken);
        logger.LogInformation("{Deployment}: postponed to the window at {Start:O}: {Why}", id, next.Start, why);
    }

    private static TimeZoneInfo Zone(ScheduledWindow scheduled) => TimeZoneInfo.FindSystemTimeZoneById(scheduled.TimeZone);
}
