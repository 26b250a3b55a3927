using System.Text;
using System.Text.Json.Nodes;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Discord.Rendering;

/// <summary>
/// A <see cref="ChatMessage"/> as a Discord message payload: one embed (title — its first line, the rest of a multi-line one going
/// after the status in the description —, status as the description's first line,
/// fields, checklists as field text — a mention inside either (<see cref="InlineMention"/>) as <c>&lt;@id&gt;</c> — footer, a colour by the status's mark, the image as <c>attachment://</c>), the
/// mentions in <c>content</c> and <c>allowed_mentions</c> naming exactly those users and roles. Discord's limits
/// are respected by truncating, never by failing. Pure.
/// </summary>
public static class DiscordMessageRenderer
{
    public const int ContentLimit = 2000;
    public const int TitleLimit = 256;
    public const int DescriptionLimit = 4096;
    public const int FieldCountLimit = 25;
    public const int FieldNameLimit = 256;
    public const int FieldValueLimit = 1024;
    public const int FooterLimit = 2048;
    public const int EmbedTotalLimit = 6000;

    /// <summary>The payload for <c>POST</c>/<c>PATCH</c> of a channel message (or an interaction reply).</summary>
    /// <param name="holders">Who holds each role, to turn a <see cref="Mention.RoleGroup"/> into users and Discord roles.</param>
    public static JsonObject Render(ChatMessage message, RoleHolders holders)
    {
        var (content, users, roles) = Mentions(message.Mentions, holders);
        var payload = new JsonObject
        {
            ["embeds"] = new JsonArray(Embed(message, holders)),
            // Only those named are pinged: never @everyone, never a role or user merely written in a value.
            ["allowed_mentions"] = new JsonObject
            {
                ["parse"] = new JsonArray(),
                ["users"] = new JsonArray([.. users.Take(100).Select(u => (JsonNode)JsonValue.Create(u))]),
                ["roles"] = new JsonArray([.. roles.Take(100).Select(r => (JsonNode)JsonValue.Create(r))]),
            },
        };
        if (content.Length > 0)
            payload["content"] = Truncate(content, ContentLimit);
        if (message.Image is { } image)
            payload["attachments"] = new JsonArray(new JsonObject { ["id"] = 0, ["filename"] = image.FileName, ["description"] = Truncate(image.AltText, 1024) });
        return payload;
    }

    /// <summary>A <c>group:&lt;id&gt;</c> (or <c>role:&lt;id&gt;</c>) entry names a Discord role; any other numeric entry a user.</summary>
    public static bool TryRoleGroup(string holder, out string roleId)
    {
        foreach (var prefix in (string[])["group:", "role:"])
            if (holder.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && IsSnowflake(holder[prefix.Length..]))
            {
                roleId = holder[prefix.Length..];
                return true;
            }
        roleId = "";
        return false;
    }

    private static (string Content, List<string> Users, List<string> Roles) Mentions(IReadOnlyList<Mention> mentions, RoleHolders holders)
    {
        var users = new List<string>();
        var roles = new List<string>();
        var words = new List<string>();
        foreach (var mention in mentions)
        {
            switch (mention)
            {
                case Mention.User user when IsSnowflake(user.UserId):
                    AddUser(user.UserId);
                    break;
                case Mention.User user:
                    words.Add("@" + user.UserId);
                    break;
                case Mention.RoleGroup group:
                    var before = users.Count + roles.Count;
                    foreach (var holder in holders.HoldersOf(group.Role).Order(StringComparer.Ordinal))
                    {
                        if (TryRoleGroup(holder, out var roleId))
                        {
                            if (!roles.Contains(roleId))
                            {
                                roles.Add(roleId);
                                words.Add($"<@&{roleId}>");
                            }
                        }
                        else if (IsSnowflake(holder))
                            AddUser(holder);
                    }
                    // Nobody to ping: still say who is called on, so people can see the gap.
                    if (users.Count + roles.Count == before)
                        words.Add($"@{group.Role.Title()} (nobody configured)");
                    break;
            }
        }
        return (string.Join(' ', words), users, roles);

        void AddUser(string id)
        {
            if (users.Contains(id))
                return;
            users.Add(id);
            words.Add($"<@{id}>");
        }
    }

    private static JsonObject Embed(ChatMessage message, RoleHolders holders)
    {
        // A mention inside a field's value or a checklist line shows as a name in an embed (and an embed pings nobody).
        string Inline(string text) => InlineMention.Render(text, t => t, m => Mentions([m], holders).Content);

        var budget = EmbedTotalLimit;
        // A plain-text answer (help, list, an error) is all title, over several lines: an embed title is one line of 256 characters at
        // most, so its first line is the title and the rest follows the status in the description (4096), rather than being cut off.
        var cut = message.Title.IndexOf('\n');
        var (heading, rest) = cut < 0 ? (message.Title, "") : (message.Title[..cut], message.Title[(cut + 1)..]);
        var title = Take(heading, TitleLimit, ref budget);
        var embed = new JsonObject { ["title"] = title };

        var footer = message.Footer is { } f ? Take(f, FooterLimit, ref budget) : null;

        var fields = new JsonArray();
        var candidates = message.Fields.Select(x => (Name: x.Label, Value: Inline(x.Value), x.Inline))
            .Concat(message.Checklists.Select(s => (Name: s.Heading, Value: ChecklistText(s, Inline), Inline: false)))
            .ToList();
        var description = string.Join('\n', new[] { message.Status ?? "", rest }.Where(t => t.Length > 0));
        if (message.Image is { } image && description.Length == 0)
            description = image.AltText;

        var kept = 0;
        foreach (var (name, value, inline) in candidates)
        {
            if (kept == FieldCountLimit - 1 && candidates.Count > FieldCountLimit)
            {
                var more = $"{candidates.Count - kept} more not shown";
                if (budget >= more.Length + 1)
                {
                    fields.Add(Field("…", more, false, ref budget));
                }
                break;
            }
            var nameText = string.IsNullOrWhiteSpace(name) ? "\u200b" : name;
            var valueText = string.IsNullOrWhiteSpace(value) ? "—" : value;
            if (budget < Math.Min(nameText.Length, FieldNameLimit) + 2)
                break;
            fields.Add(Field(nameText, valueText, inline, ref budget));
            kept++;
        }
        if (fields.Count > 0)
            embed["fields"] = fields;
        if (description.Length > 0 && budget > 1)
            embed["description"] = Take(description, Math.Min(DescriptionLimit, budget), ref budget);
        if (footer is not null)
            embed["footer"] = new JsonObject { ["text"] = footer };
        if (Colour(message.Status) is { } colour)
            embed["color"] = colour;
        if (message.Image is { } picture)
            embed["image"] = new JsonObject { ["url"] = "attachment://" + picture.FileName };
        return embed;
    }

    private static JsonObject Field(string name, string value, bool inline, ref int budget)
    {
        var n = Take(name, FieldNameLimit, ref budget);
        var v = Take(value, Math.Max(1, Math.Min(FieldValueLimit, budget)), ref budget);
        return new JsonObject { ["name"] = n, ["value"] = v, ["inline"] = inline };
    }

    /// <summary>One line per item, each with its mark and, for a manual item, its role; lines that do not fit are counted.</summary>
    private static string ChecklistText(ChecklistSection section, Func<string, string> inline)
    {
        var text = new StringBuilder();
        for (var i = 0; i < section.Lines.Count; i++)
        {
            var l = section.Lines[i];
            var line = $"{l.State.Mark()} {inline(l.Text)}{(l.Role is { } role ? $" ({role.Title()})" : "")}";
            var rest = section.Lines.Count - i - 1;
            var tail = rest > 0 ? $"\n…{rest + 1} more" : "";
            if (text.Length + line.Length + 1 + tail.Length > FieldValueLimit)
            {
                text.Append($"…{section.Lines.Count - i} more");
                break;
            }
            text.Append(line).Append('\n');
        }
        return text.ToString().TrimEnd('\n');
    }

    /// <summary>Green when done or approved, red when failed or rolled back, amber when waiting or paused, blue when running.</summary>
    private static int? Colour(string? status)
    {
        if (string.IsNullOrEmpty(status))
            return null;
        foreach (var (mark, colour) in Colours)
            if (status.StartsWith(mark, StringComparison.Ordinal))
                return colour;
        return null;
    }

    private static readonly (string Mark, int Colour)[] Colours =
    [
        ("✅", 0x2ECC71), ("🟢", 0x2ECC71), ("❌", 0xE74C3C), ("🚨", 0xE74C3C), ("⏪", 0xE74C3C),
        ("⏳", 0xF1C40F), ("⚠️", 0xF1C40F), ("⏸️", 0xF1C40F), ("▶️", 0x3498DB),
    ];

    private static string Take(string text, int limit, ref int budget)
    {
        var taken = Truncate(text.Trim(), Math.Min(limit, Math.Max(1, budget)));
        budget -= taken.Length;
        return taken;
    }

    /// <summary>Cuts at <paramref name="limit"/> UTF-16 units with an ellipsis, never inside a surrogate pair.</summary>
    public static string Truncate(string text, int limit)
    {
        if (text.Length <= limit)
            return text;
        var cut = Math.Max(0, limit - 1);
        if (cut > 0 && char.IsHighSurrogate(text[cut - 1]))
            cut--;
        return text[..cut] + "…";
    }

    private static bool IsSnowflake(string id) => id.Length is > 0 and <= 21 && id.All(char.IsAsciiDigit);
}
