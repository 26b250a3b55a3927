using ChatOps.Core.Conversation;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;

namespace ChatOps.Core.Tests;

public class DeploymentCardTests
{
    private const string Sha = "3f9c" + "0123456789abcdef0123456789abcdef0123456789abcdef01234567" + "a21b";
    private static readonly DateTimeOffset At = new(2026, 11, 28, 2, 11, 0, TimeSpan.FromHours(1));

    private static readonly CheckResult LagOk = new("replication lag", CheckStatus.Pass, "0.4 s (< 10 s)");
    private static readonly CheckResult OpenTransaction = new("long transactions", CheckStatus.Warn, "1 open 6 min (pid 4711)");
    private static readonly CheckResult LagTooHigh = new("replication lag", CheckStatus.Fail, "14 s (< 10 s)");

    private static DeploymentCard Card(IReadOnlyDictionary<SignOffRole, RoleSigner>? signOffs = null, IReadOnlyList<CheckResult>? automated = null) =>
        new(new DeploymentId(3), "20250803_add_analytics", Sha, "db.internal:5432/app", "erin",
            State: null, Next: "Runs when all four have signed · sign-offs expire 04:00",
            new PlanSummary(5, LockMode.ShareUpdateExclusive, 4, ["CREATE INDEX without CONCURRENTLY blocks writes", "SET NOT NULL scans the table", "a third one"]),
            [.. automated ?? [LagOk, OpenTransaction], .. Checklist.ManualItems],
            signOffs ?? new Dictionary<SignOffRole, RoleSigner>());

    private static readonly Dictionary<SignOffRole, RoleSigner> Two = new()
    {
        [SignOffRole.DatabaseAdministrator] = new("alice", At),
        [SignOffRole.SeniorBackendEngineer] = new("carol", At.AddMinutes(1)),
    };

    private static readonly Dictionary<SignOffRole, RoleSigner> Four = new(Two)
    {
        [SignOffRole.DevOpsSreLead] = new("dave", At.AddMinutes(2)),
        [SignOffRole.ProductOwner] = new("pete", At.AddMinutes(3)),
    };

    private static ChecklistSection Section(ChatMessage message, string headingStart) =>
        Assert.Single(message.Checklists, s => s.Heading.StartsWith(headingStart, StringComparison.Ordinal));

    [Fact]
    public void Nobody_signed_the_card_awaits_all_four_roles_says_how_to_sign_and_calls_on_every_role()
    {
        var message = CardRenderer.Render(Card());

        Assert.Equal("🗄️ D-3 · 20250803_add_analytics → db.internal:5432/app", message.Title);
        Assert.Equal("⏳ AWAITING SIGN-OFF (0/4)", message.Status);
        Assert.Equal(
            [
                new MessageField("requested by", InlineMention.Of(new Mention.User("erin")), Inline: true),
                new MessageField("sha256", "3f9c…a21b", Inline: true),
                new MessageField("plan", "5 statements, strongest lock SHARE UPDATE EXCLUSIVE, 4 warnings", Inline: true),
            ],
            message.Fields);
        Assert.Equal(
            "Sign-off — react ✅ on this card or type /migrate approve D-3 (your sign-off confirms your role's items above)",
            message.Checklists[^1].Heading);
        Assert.Equal(
            [
                new ChecklistLine(ChecklistState.Open, "Database Administrator — nobody yet"),
                new ChecklistLine(ChecklistState.Open, "Senior Backend Engineer — nobody yet"),
                new ChecklistLine(ChecklistState.Open, "DevOps/SRE Lead — nobody yet"),
                new ChecklistLine(ChecklistState.Open, "Product Owner — nobody yet"),
            ],
            message.Checklists[^1].Lines);
        Assert.Equal(Enum.GetValues<SignOffRole>().Select(r => (Mention)new Mention.RoleGroup(r)), message.Mentions);
        Assert.Equal("Runs when all four have signed · sign-offs expire 04:00", message.Footer);
        Assert.Null(message.Image);
    }

    [Fact]
    public void Automated_checks_show_their_marks_and_values_and_manual_items_their_role()
    {
        var checks = Section(CardRenderer.Render(Card()), "Pre-deployment checks").Lines;

        Assert.Equal(new ChecklistLine(ChecklistState.Done, "replication lag: 0.4 s (< 10 s)"), checks[0]);
        Assert.Equal(new ChecklistLine(ChecklistState.Warning, "long transactions: 1 open 6 min (pid 4711)"), checks[1]);
        Assert.Equal(
            new ChecklistLine(ChecklistState.Open, "backup verified: full backup completed and restore-tested", SignOffRole.DatabaseAdministrator),
            checks[2]);
        Assert.Equal(Checklist.ManualItems.Count + 2, checks.Count);
        Assert.All(checks.Skip(2), l => Assert.Equal(ChecklistState.Open, l.State));
    }

    [Fact]
    public void A_failed_automated_check_is_marked_and_named_in_the_status_while_signing()
    {
        var message = CardRenderer.Render(Card(Two, [LagTooHigh]));

        Assert.Equal("⏳ AWAITING SIGN-OFF (2/4) · 1 automated check failed", message.Status);
        Assert.Equal(new ChecklistLine(ChecklistState.Failed, "replication lag: 14 s (< 10 s)"), Section(message, "Pre-deployment checks").Lines[0]);
    }

    [Fact]
    public void Two_roles_signed_the_card_shows_who_and_when_and_calls_only_on_the_roles_still_needed()
    {
        var message = CardRenderer.Render(Card(Two));

        Assert.Equal("⏳ AWAITING SIGN-OFF (2/4)", message.Status);
        Assert.Equal(
            [
                new ChecklistLine(ChecklistState.Done, "Database Administrator — alice · 02:11"),
                new ChecklistLine(ChecklistState.Done, "Senior Backend Engineer — carol · 02:12"),
                new ChecklistLine(ChecklistState.Open, "DevOps/SRE Lead — nobody yet"),
                new ChecklistLine(ChecklistState.Open, "Product Owner — nobody yet"),
            ],
            Section(message, "Sign-off").Lines);
        Assert.Equal([new Mention.RoleGroup(SignOffRole.DevOpsSreLead), new Mention.RoleGroup(SignOffRole.ProductOwner)], message.Mentions);
    }

    [Fact]
    public void Each_signed_role_ticks_its_own_manual_items_and_no_other_role_s()
    {
        var checks = Section(CardRenderer.Render(Card(Two)), "Pre-deployment checks").Lines;

        var manual = checks.Where(l => l.Role is not null).ToDictionary(l => l.Text[..l.Text.IndexOf(':', StringComparison.Ordinal)], l => l.State);
        Assert.Equal(ChecklistState.Done, manual["backup verified"]);        // DBA: alice
        Assert.Equal(ChecklistState.Done, manual["connection limits"]);      // DBA: alice
        Assert.Equal(ChecklistState.Done, manual["application ready"]);      // Senior Backend Engineer: carol
        Assert.Equal(ChecklistState.Open, manual["monitoring dashboard"]);   // DevOps/SRE Lead: nobody yet
        Assert.Equal(ChecklistState.Open, manual["rollback tested"]);
        Assert.Equal(ChecklistState.Open, manual["maintenance window"]);
        Assert.Equal(ChecklistState.Open, manual["stakeholders notified"]);  // Product Owner: nobody yet
        Assert.Equal(7, manual.Count);
    }

    [Fact]
    public void A_manual_item_without_a_role_stays_open_whoever_signs()
    {
        var card = Card(Four) with { Checks = [new CheckResult("change ticket", CheckStatus.Manual, "CHG-1234 approved")] };

        Assert.Equal(new ChecklistLine(ChecklistState.Open, "change ticket: CHG-1234 approved"), Section(CardRenderer.Render(card), "Pre-deployment checks").Lines.Single());
    }

    [Fact]
    public void All_four_roles_and_no_failed_check_read_approved_for_deployment_and_stop_asking()
    {
        var message = CardRenderer.Render(Card(Four));

        Assert.Equal("🟢 APPROVED FOR DEPLOYMENT", message.Status);
        Assert.Equal("Sign-off", message.Checklists[^1].Heading);
        Assert.Equal(
            ["Database Administrator — alice · 02:11", "Senior Backend Engineer — carol · 02:12", "DevOps/SRE Lead — dave · 02:13", "Product Owner — pete · 02:14"],
            message.Checklists[^1].Lines.Select(l => l.Text));
        Assert.All(message.Checklists[^1].Lines, l => Assert.Equal(ChecklistState.Done, l.State));
        Assert.All(Section(message, "Pre-deployment checks").Lines.Where(l => l.Role is not null), l => Assert.Equal(ChecklistState.Done, l.State));
        Assert.Empty(message.Mentions);
    }

    [Fact]
    public void All_four_roles_but_a_failed_automated_check_is_not_approved_and_says_which_check()
    {
        var card = Card(Four, [LagTooHigh, new CheckResult("disk space", CheckStatus.Fail, "2 GB free (needs 5 GB)")]);
        var message = CardRenderer.Render(card);

        Assert.False(card.IsApproved);
        Assert.Equal("⛔ NOT APPROVED · all 4 roles signed, but 2 automated checks failed: replication lag, disk space", message.Status);
        Assert.DoesNotContain("APPROVED FOR DEPLOYMENT", message.Status, StringComparison.Ordinal);
    }

    [Fact]
    public void Voided_sign_offs_say_why_in_a_field_and_the_status()
    {
        var card = Card() with { SignOffsVoided = "20250803_add_analytics.sql changed on disk after signing (sha256 3f9c…a21b → 77aa…0c1d)" };
        var message = CardRenderer.Render(card);

        Assert.Equal("⏳ AWAITING SIGN-OFF (0/4) · sign-offs voided", message.Status);
        Assert.Equal(
            new MessageField("sign-offs voided", "20250803_add_analytics.sql changed on disk after signing (sha256 3f9c…a21b → 77aa…0c1d)"),
            message.Fields[^1]);
        Assert.DoesNotContain(CardRenderer.Render(Card()).Fields, f => f.Label == "sign-offs voided");
    }

    [Fact]
    public void Past_sign_off_the_status_is_the_deployment_s_state_and_nobody_is_asked_to_sign()
    {
        var card = Card(Four) with { State = "▶️ RUNNING · phase 2/4 · 3m12s", Next = "next: phase 3 index builds · /migrate pause | rollback" };
        var message = CardRenderer.Render(card);

        Assert.Equal("▶️ RUNNING · phase 2/4 · 3m12s", message.Status);
        Assert.Equal("next: phase 3 index builds · /migrate pause | rollback", message.Footer);
        Assert.Equal("Sign-off", message.Checklists[^1].Heading);
        Assert.Empty(message.Mentions);
    }

    [Fact]
    public void The_plan_lists_its_first_warnings_and_points_to_the_rest()
    {
        Assert.Equal(
            [
                new ChecklistLine(ChecklistState.Warning, "CREATE INDEX without CONCURRENTLY blocks writes"),
                new ChecklistLine(ChecklistState.Warning, "SET NOT NULL scans the table"),
                new ChecklistLine(ChecklistState.Warning, "a third one"),
                new ChecklistLine(ChecklistState.NotApplicable, "1 more: /migrate plan 20250803_add_analytics"),
            ],
            Section(CardRenderer.Render(Card()), "Plan warnings").Lines);

        var quiet = Card() with { Plan = new PlanSummary(1, LockMode.None, 0, []) };
        var message = CardRenderer.Render(quiet);
        Assert.DoesNotContain(message.Checklists, s => s.Heading == "Plan warnings");
        Assert.Equal("1 statement, strongest lock none, 0 warnings", message.Fields.Single(f => f.Label == "plan").Value);
    }

    [Fact]
    public void The_target_is_shown_exactly_as_given_the_renderer_adds_nothing_to_it()
    {
        // The caller builds host:port/database; the card neither parses nor redacts nor adds to it.
        var card = Card() with { Target = "db.internal:5432/app" };
        var plain = PlainTextRenderer.Render(CardRenderer.Render(card));

        Assert.StartsWith("🗄️ D-3 · 20250803_add_analytics → db.internal:5432/app   ", plain, StringComparison.Ordinal);
        Assert.Single(plain.Split("db.internal", StringSplitOptions.None).Skip(1));
        Assert.DoesNotContain("Password", plain, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Username", plain, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_hash_is_shown_as_its_first_and_last_four_digits_and_anything_but_64_hex_digits_is_refused()
    {
        Assert.Equal("3f9c…a21b", Card().ShortSha256);
        Assert.Equal("ABCD…EF01", (Card() with { Sha256 = "ABCD" + new string('0', 56) + "EF01" }).ShortSha256);

        Assert.Throws<ArgumentException>(() => Card() with { Sha256 = "3f9ca21b" });
        Assert.Throws<ArgumentException>(() => Card() with { Sha256 = new string('g', 64) });
        Assert.Throws<ArgumentException>(() => new DeploymentCard(new DeploymentId(1), "m", Sha[..63], "h:5432/d", "erin", null, "n",
            new PlanSummary(0, LockMode.None, 0, []), [], new Dictionary<SignOffRole, RoleSigner>()));
    }

    [Fact]
    public void The_plan_summary_counts_statements_and_warnings_and_takes_the_strongest_lock_from_the_plan()
    {
        var plan = MigrationPlan.For("m", Sha, SqlScript.Parse("""
            CREATE INDEX idx_a ON contacts (a);
            CREATE INDEX idx_b ON contacts (b);
            CREATE INDEX idx_c ON contacts (c);
            CREATE INDEX idx_d ON contacts (d);
            ALTER TABLE contacts ADD COLUMN note text;
            """));

        var summary = PlanSummary.Of(plan);

        Assert.Equal(5, summary.Statements);
        Assert.Equal(plan.StrongestLock, summary.StrongestLock);
        Assert.Equal(LockMode.AccessExclusive, summary.StrongestLock);
        var counted = plan.Warnings.Where(w => w.Warning.Level != WarningLevel.Notice).ToList();
        Assert.Equal(counted.Count, summary.Warnings);
        Assert.True(summary.Warnings >= 4, $"each CREATE INDEX without CONCURRENTLY warns; got {summary.Warnings}");
        Assert.Equal(counted.Take(PlanSummary.Shown).Select(w => w.Warning.Message.Split('\n')[0]), summary.FirstWarnings);
    }
}
