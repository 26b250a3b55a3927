using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Discord.Rendering;

namespace ChatOps.Discord.Tests;

/// <summary>A mention inside a field's value or a checklist line (<see cref="InlineMention"/>): shown as a name in the embed, pinging nobody.</summary>
public sealed class InlineMentionRenderingTests
{
    [Fact]
    public void A_mention_in_a_field_value_or_checklist_line_is_discords_mention_and_is_not_pinged()
    {
        var holders = Discord.Holders((SignOffRole.DevOpsSreLead, ["300000000000000002", "group:400000000000000002"]));
        var message = new ChatMessage("🗄️ D-1 · m → db:5432/app")
        {
            Fields =
            [
                new("requested by", InlineMention.Of(new Mention.User("300000000000000001")), Inline: true),
                new("console user", $"by {InlineMention.Of(new Mention.User("req"))}"),
            ],
            Checklists = [new("Sign-off", [new(ChecklistState.Open, $"DevOps/SRE Lead — ask {InlineMention.Of(new Mention.RoleGroup(SignOffRole.DevOpsSreLead))}")])],
        };

        var payload = DiscordMessageRenderer.Render(message, holders);

        var fields = payload["embeds"]![0]!["fields"]!.AsArray();
        Assert.Equal("<@300000000000000001>", fields[0]!["value"]!.GetValue<string>());
        Assert.Equal("by @req", fields[1]!["value"]!.GetValue<string>());   // not a snowflake: no mention syntax
        Assert.Equal("☐ DevOps/SRE Lead — ask <@300000000000000002> <@&400000000000000002>", fields[2]!["value"]!.GetValue<string>());
        // Only the message's own mentions ping: none here.
        Assert.Null(payload["content"]);
        Assert.Empty(payload["allowed_mentions"]!["users"]!.AsArray());
        Assert.Empty(payload["allowed_mentions"]!["roles"]!.AsArray());
        Assert.DoesNotContain('\uE000', payload.ToJsonString());
    }

    [Fact]
    public void The_card_shows_its_requester_as_a_mention()
    {
        var card = CardRenderer.Render(new DeploymentCard(new DeploymentId(1), "m", new string('a', 64), "db:5432/app", "300000000000000001", null, "next",
            new PlanSummary(1, Core.Planning.LockMode.AccessShare, 0, []), [], new Dictionary<SignOffRole, RoleSigner>()));

        var fields = DiscordMessageRenderer.Render(card, Discord.Holders())["embeds"]![0]!["fields"]!.AsArray();

        Assert.Equal("<@300000000000000001>", fields.Single(f => f!["name"]!.GetValue<string>() == "requested by")!["value"]!.GetValue<string>());
    }
}
