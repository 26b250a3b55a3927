using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Slack.Tests;

public sealed class BlockKitTests
{
    private static readonly RoleHolders Roles = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.ProductOwner] = new HashSet<string> { "UPAT", "group:SPROD" },
    });

    private readonly BlockKitRenderer _renderer = new(Roles);

    private static readonly ChatMessage Card = new("🗄️ D-17 · add_index → production", "⏳ AWAITING SIGN-OFF (2/4)")
    {
        Fields =
        [
            new("requested by", "erin", Inline: true),
            new("sha256", "3f9c…a21b", Inline: true),
            new("window", "02:00–04:00 <Europe/Berlin> & later"),
        ],
        Checklists =
        [
            new("Pre-deployment checks", [new(ChecklistState.Done, "replication lag 0.4 s (< 10 s)"), new(ChecklistState.Warning, "1 transaction open 6 min")]),
            new("Sign-off", [new(ChecklistState.Open, "stakeholders notified", SignOffRole.ProductOwner)]),
        ],
        Mentions = [new Mention.RoleGroup(SignOffRole.ProductOwner), new Mention.User("UERIN"), new Mention.RoleGroup(SignOffRole.DevOpsSreLead)],
        Footer = "Runs when all four have signed · react ✅",
    };

    private static IReadOnlyList<string> Texts(JsonNode block) => block["type"]!.GetValue<string>() switch
    {
        "header" or "section" when block["text"] is { } text => [text["text"]!.GetValue<string>()],
        "section" => [.. block["fields"]!.AsArray().Select(f => f!["text"]!.GetValue<string>())],
        "context" => [.. block["elements"]!.AsArray().Select(e => e!["text"]!.GetValue<string>())],
        var other => throw new InvalidOperationException(other),
    };

    [Fact]
    public void A_card_becomes_header_status_fields_checklists_mentions_and_footer()
    {
        var rendering = _renderer.Render(Card);
        var blocks = rendering.Blocks.Select(b => (Type: b!["type"]!.GetValue<string>(), Texts: Texts(b))).ToList();

        Assert.Equal(
            [
                ("header", ["🗄️ D-17 · add_index → production"]),
                ("section", ["*⏳ AWAITING SIGN-OFF (2/4)*"]),
                ("section", ["*requested by*\nerin", "*sha256*\n3f9c…a21b"]),
                ("section", ["*window*\n02:00–04:00 &lt;Europe/Berlin&gt; &amp; later"]),
                ("section", ["*Pre-deployment checks*\n✅ replication lag 0.4 s (&lt; 10 s)\n⚠️ 1 transaction open 6 min"]),
                ("section", ["*Sign-off*\n☐ stakeholders notified  _(Product Owner)_"]),
                ("section", ["<@UPAT> <!subteam^SPROD> <@UERIN> @DevOps/SRE Lead"]),
                ("context", ["Runs when all four have signed · react ✅"]),
            ],
            blocks.Select(b => (b.Type, (string[])[.. b.Texts])).ToList(), new TupleComparer());
        Assert.True(rendering.Blocks[0]!["text"]!["emoji"]!.GetValue<bool>());
    }

    [Fact]
    public void The_fallback_text_is_the_plain_rendering_escaped_with_slack_mentions()
    {
        var text = _renderer.Render(Card).Text;

        Assert.StartsWith("🗄️ D-17 · add_index → production   ⏳ AWAITING SIGN-OFF (2/4)\nrequested by: erin · sha256: 3f9c…a21b\n", text);
        Assert.Contains("window: 02:00–04:00 &lt;Europe/Berlin&gt; &amp; later", text);
        Assert.Contains("  ☐ stakeholders notified (Product Owner)", text);
        Assert.EndsWith("Runs when all four have signed · react ✅\n<@UPAT> <!subteam^SPROD> <@UERIN> @DevOps/SRE Lead", text);
        Assert.DoesNotContain("Owner holders", text);
    }

    [Fact]
    public void A_multi_line_answer_keeps_every_line_the_first_as_header_the_rest_as_text()
    {
        var help = "/migrate sub-commands:\n" + string.Join('\n', Enumerable.Range(1, 12).Select(i => $"  start <migration> [--target <name>] — line {i} of the help"));

        var rendering = _renderer.Render(new ChatMessage(help));

        Assert.Equal("header", rendering.Blocks[0]!["type"]!.GetValue<string>());
        Assert.Equal("/migrate sub-commands:", Texts(rendering.Blocks[0]!)[0]);
        var text = string.Join('\n', rendering.Blocks.Skip(1).SelectMany(b => Texts(b!)));
        for (var i = 1; i <= 12; i++)
            Assert.Contains($"start &lt;migration&gt; [--target &lt;name&gt;] — line {i} of the help", text);
    }

    [Fact]
    public void Oversized_messages_are_cut_to_slacks_limits_not_rejected()
    {
        var huge = new ChatMessage(new string('T', 400), new string('<', 5000))
        {
            Fields = [.. Enumerable.Range(0, 25).Select(i => new MessageField($"f{i}", new string('v', 2500), Inline: true))],
            Checklists = [.. Enumerable.Range(0, 60).Select(i => new ChecklistSection($"h{i}", [new(ChecklistState.Open, new string('x', 100))]))],
            Footer = string.Concat(Enumerable.Repeat("😀", 3000)),
        };

        var rendering = _renderer.Render(huge);

        Assert.Equal(BlockKitRenderer.MaxBlocks, rendering.Blocks.Count);
        Assert.Equal("context", rendering.Blocks[^1]!["type"]!.GetValue<string>());
        Assert.True(Texts(rendering.Blocks[0]!)[0].Length <= BlockKitRenderer.MaxHeader);
        foreach (var block in rendering.Blocks)
        {
            var fields = block!["fields"]?.AsArray();
            Assert.True(fields is null || fields.Count <= BlockKitRenderer.MaxFields);
            Assert.All(Texts(block), t => Assert.True(t.Length <= (fields is null ? BlockKitRenderer.MaxText : BlockKitRenderer.MaxFieldText), $"{t.Length} characters"));
            Assert.All(Texts(block), t => Assert.DoesNotContain("&l…", t));
        }
        Assert.True(rendering.Text.Length <= BlockKitRenderer.MaxFallback);
    }

    [Theory]
    [InlineData("abcdef", 4, "abc…")]
    [InlineData("ab&amp;cdef", 5, "ab…")]
    [InlineData("ab <@U123> x", 8, "ab…")]
    [InlineData("a😀b", 3, "a…")]
    [InlineData("short", 10, "short")]
    public void Truncation_never_breaks_an_entity_a_mention_or_a_surrogate_pair(string text, int max, string expected) =>
        Assert.Equal(expected, SlackText.Truncate(text, max));

    private sealed class TupleComparer : IEqualityComparer<(string, string[])>
    {
        public bool Equals((string, string[]) x, (string, string[]) y) => x.Item1 == y.Item1 && x.Item2.SequenceEqual(y.Item2);
        public int GetHashCode((string, string[]) obj) => obj.Item1.GetHashCode(StringComparison.Ordinal);
    }
}
