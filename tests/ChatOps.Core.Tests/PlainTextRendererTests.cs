using ChatOps.Core.Conversation;
using ChatOps.Core.Planning;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class PlainTextRendererTests
{
    private static string[] Lines(string text) => text.Split('\n');

    [Fact]
    public void A_message_prints_title_and_status_first_then_fields_checklists_mentions_image_and_footer()
    {
        var message = new ChatMessage("📊 D-17 status · phase 3/4", "all within limits ✅")
        {
            Fields =
            [
                new("elapsed", "12m40s", Inline: true),
                new("connections", "44/300", Inline: true),
                new("longest app lock wait", "40 ms (alert > 1000 ms for 60 s)"),
                new("replication lag", "0.6 s", Inline: true),
            ],
            Checklists =
            [
                new("Checks",
                [
                    new(ChecklistState.Done, "replication lag 0.4 s"),
                    new(ChecklistState.Failed, "connections 290/300"),
                    new(ChecklistState.Warning, "1 transaction open 6 min"),
                    new(ChecklistState.Open, "backup verified", SignOffRole.DatabaseAdministrator),
                    new(ChecklistState.NotApplicable, "RLS probe: none configured"),
                ]),
            ],
            Mentions = [new Mention.User("alice"), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)],
            Image = new MessageImage(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, "lock-wait.png", "lock wait over the last 15 minutes"),
            Footer = "next update 02:45 · /migrate pause | rollback",
        };

        Assert.Equal(
            [
                "📊 D-17 status · phase 3/4   all within limits ✅",
                "elapsed: 12m40s · connections: 44/300",
                "longest app lock wait: 40 ms (alert > 1000 ms for 60 s)",
                "replication lag: 0.6 s",
                "Checks",
                "  ✅ replication lag 0.4 s",
                "  ❌ connections 290/300",
                "  ⚠️ 1 transaction open 6 min",
                "  ☐ backup verified (Database Administrator)",
                "  ➖ RLS probe: none configured",
                "@alice @DevOps/SRE Lead holders",
                "[image: lock wait over the last 15 minutes (lock-wait.png)]",
                "next update 02:45 · /migrate pause | rollback",
            ],
            Lines(PlainTextRenderer.Render(message)));
    }

    [Fact]
    public void A_message_with_only_a_title_is_one_line()
    {
        Assert.Equal("✅ ana signed as Database Administrator", PlainTextRenderer.Render(new ChatMessage("✅ ana signed as Database Administrator")));
    }

    [Fact]
    public void A_card_awaiting_sign_off_prints_exactly()
    {
        var card = new DeploymentCard(new DeploymentId(3), "20250803_add_analytics", "3f9c" + new string('0', 56) + "a21b",
            "db.internal:5432/app", "erin", State: null, Next: "Runs when all four have signed · sign-offs expire 04:00",
            new PlanSummary(2, LockMode.ShareUpdateExclusive, 1, ["CREATE INDEX CONCURRENTLY cannot run in a transaction block"]),
            [
                new CheckResult("replication lag", CheckStatus.Pass, "0.4 s (< 10 s)"),
                new CheckResult("long transactions", CheckStatus.Warn, "1 open 6 min (pid 4711)"),
                Checklist.ManualItems[0],
                Checklist.ManualItems[2],
            ],
            new Dictionary<SignOffRole, RoleSigner>
            {
                [SignOffRole.DatabaseAdministrator] = new("alice", new DateTimeOffset(2026, 11, 28, 2, 11, 0, TimeSpan.FromHours(1))),
            });

        Assert.Equal(
            [
                "🗄️ D-3 · 20250803_add_analytics → db.internal:5432/app   ⏳ AWAITING SIGN-OFF (1/4)",
                "requested by: @erin · sha256: 3f9c…a21b · plan: 2 statements, strongest lock SHARE UPDATE EXCLUSIVE, 1 warning",
                "Plan warnings",
                "  ⚠️ CREATE INDEX CONCURRENTLY cannot run in a transaction block",
                "Pre-deployment checks",
                "  ✅ replication lag: 0.4 s (< 10 s)",
                "  ⚠️ long transactions: 1 open 6 min (pid 4711)",
                "  ✅ backup verified: full backup completed and restore-tested (Database Administrator)",
                "  ☐ monitoring dashboard: performance dashboard active and shared (DevOps/SRE Lead)",
                "Sign-off — react ✅ on this card or type /migrate approve D-3 (your sign-off confirms your role's items above)",
                "  ✅ Database Administrator — alice · 02:11",
                "  ☐ Senior Backend Engineer — nobody yet",
                "  ☐ DevOps/SRE Lead — nobody yet",
                "  ☐ Product Owner — nobody yet",
                "@Senior Backend Engineer holders @DevOps/SRE Lead holders @Product Owner holders",
                "Runs when all four have signed · sign-offs expire 04:00",
            ],
            Lines(PlainTextRenderer.Render(CardRenderer.Render(card))));
    }

    [Fact]
    public void A_thread_reply_is_indented_two_spaces_on_every_line()
    {
        var reply = PlainTextRenderer.Render(new ChatMessage("▶️ phase 2/4 · execute migration", "started") { Footer = "next: statement 1 of 3" });

        Assert.Equal("  ▶️ phase 2/4 · execute migration   started\n  next: statement 1 of 3", PlainTextRenderer.IndentReply(reply));
        Assert.Equal("  one\n  two", PlainTextRenderer.IndentReply("one\r\ntwo"));
    }

    [Fact]
    public void A_reaction_reads_as_who_reacted_on_which_deployment()
    {
        Assert.Equal("✅ ana reacted on D-3", PlainTextRenderer.ReactionLine("✅", "ana", new DeploymentId(3)));
        Assert.Equal("⏪ dave removed their reaction on D-17", PlainTextRenderer.ReactionLine("⏪", "dave", new DeploymentId(17), removed: true));
    }
}
