using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Tests;

public class InlineMentionTests
{
    private static string Bracketed(string text) => InlineMention.Render(text, t => $"[{t}]", m => m switch
    {
        Mention.User u => $"<user {u.UserId}>",
        Mention.RoleGroup g => $"<role {g.Role}>",
        _ => "?",
    });

    [Fact]
    public void Plain_parts_and_mentions_are_rendered_each_by_its_own_function_in_order()
    {
        var text = $"by {InlineMention.Of(new Mention.User("U1"))} for {InlineMention.Of(new Mention.RoleGroup(SignOffRole.ProductOwner))}!";

        Assert.Equal("[by ]<user U1>[ for ]<role ProductOwner>[!]", Bracketed(text));
        Assert.Equal("<user U1>", Bracketed(InlineMention.Of(new Mention.User("U1"))));
        Assert.Equal("[no mention]", Bracketed("no mention"));
    }

    [Fact]
    public void The_console_shows_at_id_and_role_holders()
    {
        Assert.Equal("requested by @ana, @Database Administrator holders",
            InlineMention.Plain($"requested by {InlineMention.Of(new Mention.User("ana"))}, {InlineMention.Of(new Mention.RoleGroup(SignOffRole.DatabaseAdministrator))}"));
    }

    [Fact]
    public void A_cut_off_or_unknown_token_stays_plain_text_and_an_id_cannot_carry_a_token()
    {
        var token = InlineMention.Of(new Mention.User("U1"));

        Assert.Equal($"[x {token[..^1]}]", Bracketed("x " + token[..^1]));
        Assert.Equal("[\uE000rNoSuchRole\uE001]", Bracketed("\uE000rNoSuchRole\uE001"));
        Assert.Throws<ArgumentException>(() => InlineMention.Of(new Mention.User("U1\uE001x")));
        Assert.Throws<ArgumentException>(() => InlineMention.Of(new Mention.User("")));
    }

    [Fact]
    public void The_card_mentions_its_requester_and_the_console_prints_at_id()
    {
        var card = new DeploymentCard(new DeploymentId(3), "m1", new string('a', 64), "db:5432/app", "U0ERIN", State: null, Next: "next",
            new PlanSummary(1, Planning.LockMode.AccessShare, 0, []), [], new Dictionary<SignOffRole, RoleSigner>());

        var message = CardRenderer.Render(card);

        Assert.Equal(InlineMention.Of(new Mention.User("U0ERIN")), Assert.Single(message.Fields, f => f.Label == "requested by").Value);
        Assert.Contains("requested by: @U0ERIN · sha256", PlainTextRenderer.Render(message));
    }

    [Fact]
    public void A_mention_inside_a_checklist_line_prints_as_at_id_on_the_console()
    {
        var message = new ChatMessage("t") { Checklists = [new("Sign-off", [new(ChecklistState.Done, $"DBA — {InlineMention.Of(new Mention.User("ana"))}")])] };

        Assert.Contains("  ✅ DBA — @ana", PlainTextRenderer.Render(message));
    }
}
