using ChatOps.Core.Planning;

namespace ChatOps.Core.Conversation;

/// <summary><c>/migrate plan</c> as a message: each statement with the lock it takes, then the findings by level.</summary>
public static class PlanMessage
{
    public static ChatMessage Render(MigrationPlan plan)
    {
        var findings = plan.Warnings.Count(w => w.Warning.Level != WarningLevel.Notice);
        var status = findings == 0
            ? $"✅ no warnings · strongest lock {plan.StrongestLock}"
            : $"⚠️ {findings} warning(s) · strongest lock {plan.StrongestLock}";
        var statements = plan.Statements.Select(s => new ChecklistLine(
            s.StrongestLock is LockMode.AccessExclusive or LockMode.Exclusive or LockMode.Share or LockMode.ShareRowExclusive ? ChecklistState.Warning : ChecklistState.Done,
            $"#{s.Statement.Number} line {s.Statement.Line}: {s.Statement.Summary(70)} — {s.StrongestLock}")).ToList();
        var levels = plan.Warnings.GroupBy(w => w.Warning.Level).OrderBy(g => g.Key switch { WarningLevel.Error => 0, WarningLevel.Warning => 1, _ => 2 })
            .Select(g => new ChecklistSection($"{g.Key}s", g.Select(w => new ChecklistLine(
                g.Key == WarningLevel.Notice ? ChecklistState.NotApplicable : g.Key == WarningLevel.Error ? ChecklistState.Failed : ChecklistState.Warning,
                $"line {w.Statement.Statement.Line} [{w.Warning.Rule}] {w.Warning.Message.Split('\n', 2)[0]}")).ToList()));
        return new ChatMessage($"📋 Plan for {plan.Migration}: {plan.Statements.Count} statement(s)", status)
        {
            Fields = [new MessageField("sha256", plan.Sha256.Length >= 12 ? plan.Sha256[..12] : plan.Sha256, Inline: true)],
            Checklists = [new ChecklistSection("Statements and the locks they take", statements), .. levels],
            Footer = "/migrate start " + plan.Migration + " opens a deployment with this plan on its card",
        };
    }
}
