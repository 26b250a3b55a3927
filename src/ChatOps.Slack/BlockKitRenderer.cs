using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Slack;

/// <summary>A message as Slack takes it: Block Kit blocks and the plain-text fallback for notifications and screen readers.</summary>
internal sealed record SlackRendering(string Text, JsonArray Blocks);

/// <summary>
/// <see cref="ChatMessage"/> to Block Kit: a header (title), the status in bold, fields (inline ones side by side, ten to a
/// section), each checklist as a section, the mentions, the footer as context; a mention inside a field's value or a checklist
/// line (<see cref="InlineMention"/>) as Slack's <c>&lt;@U…&gt;</c>. Within Slack's limits (50 blocks, header 150
/// characters, section text 3,000, ten fields of 2,000, fallback text 4,000): what does not fit is cut with …, never rejected.
/// The image is not a block: <see cref="SlackChannel"/> uploads it beside the message.
/// </summary>
internal sealed class BlockKitRenderer(RoleHolders roles)
{
    public const int MaxBlocks = 50;
    public const int MaxHeader = 150;
    public const int MaxText = 3000;
    public const int MaxFieldText = 2000;
    public const int MaxFields = 10;
    public const int MaxFallback = 4000;

    public SlackRendering Render(ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        // A plain-text answer (help, an error with its usage line) is all title: its first line is the header (150 characters at
        // most), the other lines follow as text rather than being cut off.
        var (heading, rest) = message.Title.IndexOf('\n') is var newline and >= 0
            ? (message.Title[..newline], message.Title[(newline + 1)..])
            : (message.Title, "");
        // A first line too long for the header is cut there (Header truncates) and given in full with the rest.
        if (heading.Length > MaxHeader && rest.Length > 0)
            rest = heading + "\n" + rest;
        var blocks = new List<JsonObject> { Header(heading) };
        if (message.Status is { } status)
            blocks.Add(Section($"*{SlackText.Escape(status)}*"));
        if (!string.IsNullOrWhiteSpace(rest))
            blocks.AddRange(SlackText.Chunks(rest.Split('\n').Select(SlackText.Escape), MaxText).Select(Section));

        var inline = new List<MessageField>();
        foreach (var field in message.Fields)
        {
            if (field.Inline)
            {
                inline.Add(field);
                continue;
            }
            FlushInline();
            blocks.Add(Section(FieldText(field, MaxText)));
        }
        FlushInline();

        foreach (var section in message.Checklists)
        {
            var lines = section.Lines.Select(l => $"{l.State.Mark()} {Inline(l.Text)}{(l.Role is { } role ? $"  _({SlackText.Escape(role.Title())})_" : "")}")
                .Prepend($"*{SlackText.Escape(section.Heading)}*");
            blocks.AddRange(SlackText.Chunks(lines, MaxText).Select(Section));
        }

        var mentions = Mentions(message.Mentions);
        if (mentions.Count > 0)
            blocks.AddRange(SlackText.Chunks([string.Join(' ', mentions)], MaxText).Select(Section));

        if (message.Footer is { } footer)
            blocks.Add(new JsonObject
            {
                ["type"] = "context",
                ["elements"] = new JsonArray(Mrkdwn(SlackText.Truncate(SlackText.Escape(footer), MaxText))),
            });

        if (blocks.Count > MaxBlocks)
        {
            var dropped = blocks.Count - (MaxBlocks - 1);
            blocks = [.. blocks.Take(MaxBlocks - 1), new JsonObject
            {
                ["type"] = "context",
                ["elements"] = new JsonArray(Mrkdwn($"… {dropped} more sections not shown (Slack shows at most {MaxBlocks})")),
            }];
        }
        return new SlackRendering(Fallback(message, mentions), new JsonArray([.. blocks]));

        void FlushInline()
        {
            foreach (var chunk in inline.Chunk(MaxFields))
                blocks.Add(new JsonObject
                {
                    ["type"] = "section",
                    ["fields"] = new JsonArray([.. chunk.Select(f => (JsonNode)Mrkdwn(FieldText(f, MaxFieldText)))]),
                });
            inline.Clear();
        }
    }

    /// <summary>
    /// Slack's mention syntax for each mention, each person or group once: a user <c>&lt;@U…&gt;</c>; a role group each of
    /// the role's configured entries (<c>group:S…</c> a user group <c>&lt;!subteam^S…&gt;</c>); a role nobody holds by name.
    /// </summary>
    public IReadOnlyList<string> Mentions(IEnumerable<Mention> mentions)
    {
        var tokens = new List<string>();
        foreach (var mention in mentions)
        {
            switch (mention)
            {
                case Mention.User user:
                    tokens.Add($"<@{user.UserId}>");
                    break;
                case Mention.RoleGroup group:
                    var holders = roles.HoldersOf(group.Role).Order(StringComparer.Ordinal).ToList();
                    if (holders.Count == 0)
                        tokens.Add(SlackText.Escape($"@{group.Role.Title()}"));
                    tokens.AddRange(holders.Select(Entry));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(mentions), mention, "a mention is a user or a role group");
            }
        }
        return tokens.Distinct(StringComparer.Ordinal).ToList();
    }

    private static string Entry(string holder) =>
        SlackUserGroups.GroupId(holder) is { } group ? $"<!subteam^{group}>" : $"<@{holder}>";

    // The console's rendering, escaped, with Slack's mentions so that the notification names the people it calls on.
    private static string Fallback(ChatMessage message, IReadOnlyList<string> mentions)
    {
        var text = SlackText.Escape(PlainTextRenderer.Render(message with { Mentions = [], Image = null }));
        if (mentions.Count > 0)
            text += "\n" + string.Join(' ', mentions);
        return SlackText.Truncate(text, MaxFallback);
    }

    private string FieldText(MessageField field, int max) =>
        SlackText.Truncate($"*{SlackText.Escape(field.Label)}*\n{Inline(field.Value)}", max);

    // Text escaped, and the mentions inside it (InlineMention) in Slack's syntax: mrkdwn shows them as names.
    private string Inline(string text) => InlineMention.Render(text, SlackText.Escape, m => string.Join(' ', Mentions([m])));

    private static JsonObject Header(string title) => new()
    {
        ["type"] = "header",
        ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = SlackText.Truncate(string.IsNullOrWhiteSpace(title) ? "…" : title, MaxHeader), ["emoji"] = true },
    };

    private static JsonObject Section(string mrkdwn) => new() { ["type"] = "section", ["text"] = Mrkdwn(SlackText.Truncate(mrkdwn, MaxText)) };

    private static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = text };
}
