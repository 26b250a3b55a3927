using System.Globalization;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Conversation;

/// <summary>
/// What a deployment's card shows (issue 12, §4): posted by <c>start</c> as a bot message and edited in place as the
/// deployment changes. Pure data; <see cref="CardRenderer"/> turns it into a <see cref="ChatMessage"/>.
/// </summary>
/// <param name="Sha256">The pinned migration's SHA-256, 64 hex digits; the card shows <see cref="ShortSha256"/>.</param>
/// <param name="Target">Where it runs, as <c>host:port/database</c>. Shown as given: the caller builds it from the
/// connection string's host, port and database, never its password.</param>
/// <param name="Requester">The platform user id of who ran <c>start</c>: the card mentions them, and each platform shows their name.</param>
/// <param name="State">The deployment's state once it is past sign-off (<c>▶️ RUNNING · phase 2/4 · 3m12s</c>,
/// <c>⏪ ROLLED BACK in 0.7 s</c>); null while it awaits sign-off, when the card derives its status from the sign-offs
/// and the checks (<c>⏳ AWAITING SIGN-OFF (2/4)</c>, <c>🟢 APPROVED FOR DEPLOYMENT</c>).</param>
/// <param name="Next">One line: what happens next and what a person can do.</param>
/// <param name="Checks">The pre-deployment checks: automated (pass, warn, fail, with their values) and manual
/// (<see cref="CheckStatus.Manual"/>, each with the role that confirms it).</param>
/// <param name="SignOffs">The roles covered, each by whom (the sign-off book's assignment); a role missing here is covered by nobody yet.</param>
/// <param name="SignOffsVoided">Why every sign-off was voided (a pinned file changed on disk), or null when none was.</param>
public sealed record DeploymentCard(
    DeploymentId Deployment,
    string Migration,
    string Sha256,
    string Target,
    string Requester,
    string? State,
    string Next,
    PlanSummary Plan,
    IReadOnlyList<CheckResult> Checks,
    IReadOnlyDictionary<SignOffRole, RoleSigner> SignOffs,
    string? SignOffsVoided = null)
{
    // Checked on construction and on `with`: a card never shows a hash it could not shorten honestly.
    public string Sha256 { get; init => field = RequireSha256(value); } = RequireSha256(Sha256);

    /// <summary>The hash as the card shows it: first four and last four hex digits (<c>3f9c…a21b</c>).</summary>
    public string ShortSha256 => $"{Sha256[..4]}…{Sha256[^4..]}";

    /// <summary>The roles covered (0–4).</summary>
    public int RolesCovered => Enum.GetValues<SignOffRole>().Count(SignOffs.ContainsKey);

    /// <summary>The automated checks that failed: any one keeps the deployment from being approved.</summary>
    public IReadOnlyList<CheckResult> FailedChecks => Checks.Where(c => c.Status == CheckStatus.Fail).ToList();

    /// <summary>All four roles covered and no automated check failed.</summary>
    public bool IsApproved => RolesCovered == Enum.GetValues<SignOffRole>().Length && FailedChecks.Count == 0;

    private static string RequireSha256(string sha256) =>
        sha256.Length == 64 && sha256.All(char.IsAsciiHexDigit)
            ? sha256
            : throw new ArgumentException($"a SHA-256 is 64 hex digits, not '{sha256}'", nameof(sha256));
}

/// <summary>Who covers a role, and when they signed.</summary>
/// <param name="Signer">As people should read it.</param>
/// <param name="SignedAt">Shown as <c>HH:mm</c> in the offset it carries: the caller converts to the channel's time zone.</param>
public sealed record RoleSigner(string Signer, DateTimeOffset SignedAt);

/// <summary>The plan in one line and a few warnings: what a signer needs before opening the full plan.</summary>
/// <param name="FirstWarnings">The first warnings' one-liners (at most <see cref="Shown"/>); <paramref name="Warnings"/> counts them all.</param>
public sealed record PlanSummary(int Statements, LockMode StrongestLock, int Warnings, IReadOnlyList<string> FirstWarnings)
{
    /// <summary>How many warnings the card lists; the rest are behind <c>/migrate plan</c>.</summary>
    public const int Shown = 3;

    /// <summary>
    /// The summary of <paramref name="plan"/>. Warnings and errors count; notices do not (they are for application code,
    /// not for whoever signs). A one-liner is a warning's first line.
    /// </summary>
    public static PlanSummary Of(MigrationPlan plan)
    {
        var warnings = plan.Warnings.Where(w => w.Warning.Level != WarningLevel.Notice).Select(w => FirstLine(w.Warning.Message)).ToList();
        return new(plan.Statements.Count, plan.StrongestLock, warnings.Count, warnings.Take(Shown).ToList());
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd('\r');
}

/// <summary>Turns a <see cref="DeploymentCard"/> into the <see cref="ChatMessage"/> every platform renders.</summary>
public static class CardRenderer
{
    public static ChatMessage Render(DeploymentCard card)
    {
        var signing = card.State is null && !card.IsApproved;
        var sections = new List<ChecklistSection>();
        if (card.Plan.FirstWarnings.Count > 0)
            sections.Add(new("Plan warnings", PlanWarnings(card)));
        sections.Add(new("Pre-deployment checks", card.Checks.Select(c => CheckLine(c, card)).ToList()));
        // How to sign is in the heading while signing is open; afterwards a reaction changes nothing, so the card does not invite one.
        sections.Add(new(signing
            ? $"Sign-off — react ✅ on this card or type /migrate approve {card.Deployment} (your sign-off confirms your role's items above)"
            : "Sign-off", RoleLines(card)));

        var fields = new List<MessageField>
        {
            new("requested by", InlineMention.Of(new Mention.User(card.Requester)), Inline: true),
            new("sha256", card.ShortSha256, Inline: true),
            new("plan", PlanLine(card.Plan), Inline: true),
        };
        if (card.SignOffsVoided is { } why)
            fields.Add(new("sign-offs voided", why));

        return new ChatMessage($"🗄️ {card.Deployment} · {card.Migration} → {card.Target}", Status(card))
        {
            Fields = fields,
            Checklists = sections,
            // Only while signing: the roles still needed are asked by name; an edited card does not ping anyone again.
            Mentions = signing
                ? Enum.GetValues<SignOffRole>().Where(r => !card.SignOffs.ContainsKey(r)).Select(r => (Mention)new Mention.RoleGroup(r)).ToList()
                : [],
            Footer = card.Next,
        };
    }

    private static string Status(DeploymentCard card)
    {
        if (card.State is { } state)
            return state;
        if (card.IsApproved)
            return "🟢 APPROVED FOR DEPLOYMENT";
        var failed = card.FailedChecks;
        var total = Enum.GetValues<SignOffRole>().Length;
        if (card.RolesCovered == total)
            return $"⛔ NOT APPROVED · all {total} roles signed, but {Checks(failed.Count)} failed: {string.Join(", ", failed.Select(c => c.Name))}";
        var status = $"⏳ AWAITING SIGN-OFF ({card.RolesCovered}/{total})";
        if (card.SignOffsVoided is not null)
            status += " · sign-offs voided";
        if (failed.Count > 0)
            status += $" · {Checks(failed.Count)} failed";
        return status;
    }

    private static string Checks(int n) => n == 1 ? "1 automated check" : $"{n} automated checks";

    private static string PlanLine(PlanSummary plan) =>
        $"{Count(plan.Statements, "statement")}, strongest lock {plan.StrongestLock.SqlName()}, {Count(plan.Warnings, "warning")}";

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private static List<ChecklistLine> PlanWarnings(DeploymentCard card)
    {
        var lines = card.Plan.FirstWarnings.Select(w => new ChecklistLine(ChecklistState.Warning, w)).ToList();
        var more = card.Plan.Warnings - card.Plan.FirstWarnings.Count;
        if (more > 0)
            lines.Add(new(ChecklistState.NotApplicable, $"{more} more: /migrate plan {card.Migration}"));
        return lines;
    }

    private static ChecklistLine CheckLine(CheckResult check, DeploymentCard card)
    {
        var text = check.Detail.Length == 0 ? check.Name : $"{check.Name}: {check.Detail}";
        var state = check.Status switch
        {
            CheckStatus.Pass => ChecklistState.Done,
            CheckStatus.Warn => ChecklistState.Warning,
            CheckStatus.Fail => ChecklistState.Failed,
            // A manual item is confirmed by its role's sign-off: ticked once someone covers that role.
            _ => check.Role is { } role && card.SignOffs.ContainsKey(role) ? ChecklistState.Done : ChecklistState.Open,
        };
        return new(state, text, check.Role);
    }

    private static List<ChecklistLine> RoleLines(DeploymentCard card) =>
        Enum.GetValues<SignOffRole>().Select(role => card.SignOffs.TryGetValue(role, out var by)
                ? new ChecklistLine(ChecklistState.Done, $"{role.Title()} — {by.Signer} · {by.SignedAt.ToString("HH:mm", CultureInfo.InvariantCulture)}")
                : new ChecklistLine(ChecklistState.Open, $"{role.Title()} — nobody yet"))
            .ToList();
}
