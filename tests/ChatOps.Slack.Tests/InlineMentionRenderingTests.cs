using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Slack.Tests;

/// <summary>A mention inside a field's value or a checklist line (<see cref="InlineMention"/>): Slack's <c>&lt;@U…&gt;</c>, the text around it escaped.</summary>
public sealed class InlineMentionRenderingTests
{
    private readonly BlockKitRenderer _renderer = new(new RoleHolders(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.ProductOwner] = new HashSet<string> { "UPAT", "group:SPROD" },
    }));

    private static IEnumerable<string> SectionTexts(JsonArray blocks) => blocks.SelectMany(b => b!["fields"] is JsonArray fields
        ? fields.Select(f => f!["text"]!.GetValue<string>())
        : b["text"] is { } text ? [text["text"]!.GetValue<string>()] : []);

    [Fact]
    public void A_mention_in_a_field_value_or_checklist_line_is_slacks_mention_and_the_text_around_it_is_escaped()
    {
        var message = new ChatMessage("🗄️ D-1 · m → db:5432/app")
        {
            Fields =
            [
                new("requested by", InlineMention.Of(new Mention.User("UERIN")), Inline: true),
                new("note", $"<b> & {InlineMention.Of(new Mention.User("UDAN"))}"),
            ],
            Checklists = [new("Sign-off", [new(ChecklistState.Open, $"Product Owner — ask {InlineMention.Of(new Mention.RoleGroup(SignOffRole.ProductOwner))}")])],
        };

        var rendering = _renderer.Render(message);
        var texts = SectionTexts(rendering.Blocks).ToList();

        Assert.Contains("*requested by*\n<@UERIN>", texts);
        Assert.Contains("*note*\n&lt;b&gt; &amp; <@UDAN>", texts);
        Assert.Contains("*Sign-off*\n☐ Product Owner — ask <@UPAT> <!subteam^SPROD>", texts);
        Assert.DoesNotContain('\uE000', rendering.Blocks.ToJsonString());
        // The notification's fallback text names them as the console does.
        Assert.Contains("requested by: @UERIN", rendering.Text);
        Assert.DoesNotContain('\uE000', rendering.Text);
    }

    [Fact]
    public void The_card_shows_its_requester_as_a_mention()
    {
        var card = CardRenderer.Render(new DeploymentCard(new DeploymentId(1), "m", new string('a', 64), "db:5432/app", "UERIN", null, "next",
            new PlanSummary(1, Core.Planning.LockMode.AccessShare, 0, []), [], new Dictionary<SignOffRole, RoleSigner>()));

        Assert.Contains("*requested by*\n<@UERIN>", SectionTexts(_renderer.Render(card).Blocks));
    }
}
