using ChatOps.Core.Conversation;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Reporting;

/// <summary>
/// The alerts of issue 14 §3. They go to the channel, not only the deployment's thread, and call on the Database Administrator
/// and DevOps/SRE Lead role holders: the people who may roll back by default.
/// </summary>
public static class Alerts
{
    /// <summary>The roles an alert calls on.</summary>
    public static IReadOnlyList<Mention> OnCall { get; } =
        [new Mention.RoleGroup(SignOffRole.DatabaseAdministrator), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)];

    /// <summary>How many of a breach's readings are listed; a longer window shows its first and last ones.</summary>
    internal const int ReadingsShown = 12;

    /// <summary>
    /// A rule held for its whole window. The footer says what happens, per <paramref name="policy"/>: ask (⏪ within
    /// <paramref name="askTimeout"/>, or the bot rolls back; zero waits for a person), rollback (at once) or alert (nothing).
    /// A rule whose action is <see cref="BreachAction.Alert"/> never rolls back, whatever the policy.
    /// </summary>
    /// <param name="canRollBack">False when the bot cannot roll back (the migration has no rollback script): the footer says so
    /// instead of promising a rollback.</param>
    public static ChatMessage Breached(DeploymentId id, string migration, ThresholdBreached breach, BreachPolicy policy, TimeSpan askTimeout,
        bool canRollBack)
    {
        var rule = breach.Rule;
        var trigger = rule.Action == BreachAction.RollbackTrigger;
        var title = trigger
            ? $"🚨 {id}: rollback trigger {ReportText.Describe(rule)}"
            : $"⚠️ {id}: alert {ReportText.Describe(rule)}";
        var held = breach.At - breach.Since;
        return new ChatMessage(title,
            $"❌ {ReportText.Value(rule.Metric, breach.Value)} now · over the limit since {ReportText.ClockSeconds(breach.Since)} ({ReportText.Span(held)})")
        {
            Fields =
            [
                new("readings", $"{Readings(breach)} over {ReportText.Span(held)}"),
                new("rule", $"{rule.Name}: {ReportText.Limit(rule)}", Inline: true),
                new("migration", migration, Inline: true),
            ],
            Mentions = OnCall,
            Footer = BreachedFooter(id, migration, breach, policy, askTimeout, canRollBack, trigger),
        };
    }

    private static string BreachedFooter(DeploymentId id, string migration, ThresholdBreached breach, BreachPolicy policy, TimeSpan askTimeout,
        bool canRollBack, bool trigger)
    {
        if (!trigger)
            return $"no automatic action: {breach.Rule.Name} is an alert, not a rollback trigger · /migrate rollback {id} to roll back";
        if (!canRollBack)
            return $"no automatic action: the bot cannot roll back {migration} (no rollback script) · decide here what to do";
        return policy switch
        {
            BreachPolicy.Rollback => $"rolling back now ({BreachPolicies.ConfigKey} = rollback)",
            BreachPolicy.Alert => $"no automatic action ({BreachPolicies.ConfigKey} = alert) · /migrate rollback {id} to roll back",
            _ when askTimeout <= TimeSpan.Zero =>
                $"react ⏪ on this message to roll back · the bot waits for a person (ChatOps:Thresholds:AskTimeout is 0)",
            _ => $"react ⏪ within {ReportText.Span(askTimeout)} or the bot rolls back at {ReportText.Clock(breach.At + askTimeout)}",
        };
    }

    /// <summary>"7 → 9 → 11": the window's readings in order, with the unit; a long window shows its start and its latest readings.</summary>
    private static string Readings(ThresholdBreached breach)
    {
        var metric = breach.Rule.Metric;
        var values = breach.Readings.Select(v => ReportText.Value(metric, v)).ToList();
        if (values.Count == 0)
            return ReportText.Value(metric, breach.Value);
        if (values.Count > ReadingsShown)
            values = [.. values.Take(2), $"… {values.Count - ReadingsShown} more …", .. values.TakeLast(ReadingsShown - 2)];
        return string.Join(" → ", values);
    }

    /// <summary>A breached rule recovered.</summary>
    /// <param name="since">When the breach began (<see cref="ThresholdBreached.Since"/>), to say how long it lasted; null when unknown.</param>
    public static ChatMessage Cleared(DeploymentId id, string migration, ThresholdCleared cleared, DateTimeOffset? since = null)
    {
        var lasted = since is { } s ? $" after {ReportText.Span(cleared.At - s)}" : "";
        return new ChatMessage($"✅ {id}: recovered · {ReportText.Describe(cleared.Rule)}",
            $"✅ recovered at {ReportText.ClockSeconds(cleared.At)}{lasted} · now {ReportText.Value(cleared.Rule.Metric, cleared.Value)}")
        {
            Fields = [new("rule", $"{cleared.Rule.Name}: {ReportText.Limit(cleared.Rule)}", Inline: true), new("migration", migration, Inline: true)],
            Footer = "monitoring goes on; status posts continue in the deployment's thread",
        };
    }

    /// <summary>No samples for longer than three sampling intervals: the rollback triggers cannot see.</summary>
    public static ChatMessage Degraded(DeploymentId id, string migration, MonitoringDegraded degraded) =>
        new($"⚠️ {id}: monitoring degraded — no samples for {ReportText.Span(degraded.Gap)}",
            $"⚠️ the rollback triggers cannot see: no sample since {ReportText.ClockSeconds(degraded.At - degraded.Gap)}")
        {
            Fields = [new("why", degraded.Reason), new("migration", migration)],
            Mentions = OnCall,
            // Missing data neither fires nor clears a trigger (ThresholdMonitor): say so, so nobody reads silence as health.
            Footer = $"no trigger fires or clears without samples: check the bot's connection to the target · /migrate status {id} · /migrate rollback {id} if in doubt",
        };

    /// <summary>The rollback prompt of a breach went unanswered for <paramref name="timeout"/>: the bot rolls back.</summary>
    /// <param name="why">The breach that asked (<c>blocked-sessions: application sessions blocked by the migration &gt; 5 for 30 s</c>).</param>
    public static ChatMessage AutoRollback(DeploymentId id, string why, TimeSpan timeout) =>
        new($"⏪ {id}: nobody answered within {ReportText.Span(timeout)}: rolling back", "⏪ ROLLING BACK")
        {
            Fields = [new("why", why)],
            Mentions = OnCall,
            Footer = "the rollback's progress follows in the deployment's thread",
        };
}
