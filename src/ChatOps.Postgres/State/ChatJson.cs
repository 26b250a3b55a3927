using System.Globalization;
using System.Text.Json.Nodes;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Postgres.State;

/// <summary>
/// Chat events and messages as the inbox and outbox keep them (jsonb). Written by hand rather than by reflection: the core's
/// types stay free of serializer attributes, and what is stored is a format we choose and can keep reading.
/// </summary>
public static class ChatJson
{
    /// <summary>The event's kind (<c>command</c>, <c>reaction-added</c>, <c>reaction-removed</c>, <c>thread-reply</c>,
    /// <c>sign-off-reactions-listed</c>) and its fields.</summary>
    public static string Write(ChatEvent chatEvent) => (chatEvent switch
    {
        CommandReceived c => new JsonObject
        {
            ["kind"] = "command", ["text"] = c.Text, ["user"] = c.UserId, ["channel"] = c.ChannelId, ["eventId"] = c.EventId, ["replyHandle"] = c.ReplyHandle,
        },
        ReactionAdded a => Reaction("reaction-added", a.UserId, a.Message, a.Emoji, a.EmojiName, a.EventId),
        ReactionRemoved r => Reaction("reaction-removed", r.UserId, r.Message, r.Emoji, r.EmojiName, r.EventId),
        ThreadReplied t => new JsonObject
        {
            ["kind"] = "thread-reply", ["user"] = t.UserId, ["channel"] = t.Parent.ChannelId, ["message"] = t.Parent.MessageId, ["text"] = t.Text, ["eventId"] = t.EventId,
        },
        SignOffReactionsListed l => new JsonObject
        {
            ["kind"] = "sign-off-reactions-listed", ["channel"] = l.Card.ChannelId, ["message"] = l.Card.MessageId,
            ["users"] = new JsonArray([.. l.Users.Select(u => (JsonNode)u)]), ["eventId"] = l.EventId,
            ["listedAt"] = l.ListedAt?.ToString("O", CultureInfo.InvariantCulture),
        },
        _ => throw new ArgumentOutOfRangeException(nameof(chatEvent), chatEvent.GetType().Name, "not a chat event the inbox keeps"),
    }).ToJsonString();

    public static ChatEvent ReadEvent(string json)
    {
        var o = JsonNode.Parse(json)!.AsObject();
        string S(string name) => (string)o[name]!;
        return S("kind") switch
        {
            "command" => new CommandReceived(S("text"), S("user"), S("channel"), S("eventId"), (string?)o["replyHandle"]),
            "reaction-added" => new ReactionAdded(S("user"), new MessageReference(S("channel"), S("message")), Enum.Parse<ReactionEmoji>(S("emoji")), S("emojiName"), S("eventId")),
            "reaction-removed" => new ReactionRemoved(S("user"), new MessageReference(S("channel"), S("message")), Enum.Parse<ReactionEmoji>(S("emoji")), S("emojiName"), S("eventId")),
            "thread-reply" => new ThreadReplied(S("user"), new MessageReference(S("channel"), S("message")), S("text"), S("eventId")),
            "sign-off-reactions-listed" => new SignOffReactionsListed(new MessageReference(S("channel"), S("message")),
                o["users"]!.AsArray().Select(u => (string)u!).ToList(), S("eventId"), ListedAt(o)),
            var kind => throw new InvalidDataException($"inbox event of unknown kind '{kind}'"),
        };
    }

    // A listing stored before the bot recorded when it was read has no listedAt: read as null, no guard — the bot's behaviour when it
    // was stored (MinValue would say the same less plainly: everything recorded since would count as newer and be left alone).
    private static DateTimeOffset? ListedAt(JsonObject o) =>
        (string?)o["listedAt"] is { } at ? DateTimeOffset.Parse(at, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind) : null;

    private static JsonObject Reaction(string kind, string user, MessageReference message, ReactionEmoji emoji, string emojiName, string eventId) => new()
    {
        ["kind"] = kind, ["user"] = user, ["channel"] = message.ChannelId, ["message"] = message.MessageId, ["emoji"] = emoji.ToString(),
        ["emojiName"] = emojiName, ["eventId"] = eventId,
    };

    public static string Write(ChatMessage message)
    {
        var o = new JsonObject
        {
            ["title"] = message.Title,
            ["status"] = message.Status,
            ["footer"] = message.Footer,
            ["fields"] = new JsonArray([.. message.Fields.Select(f => (JsonNode)new JsonObject { ["label"] = f.Label, ["value"] = f.Value, ["inline"] = f.Inline })]),
            ["checklists"] = new JsonArray([.. message.Checklists.Select(c => (JsonNode)new JsonObject
            {
                ["heading"] = c.Heading,
                ["lines"] = new JsonArray([.. c.Lines.Select(l => (JsonNode)new JsonObject
                    { ["state"] = l.State.ToString(), ["text"] = l.Text, ["role"] = l.Role?.ToString() })]),
            })]),
            ["mentions"] = new JsonArray([.. message.Mentions.Select(m => (JsonNode)(m switch
            {
                Mention.User u => new JsonObject { ["user"] = u.UserId },
                Mention.RoleGroup g => new JsonObject { ["role"] = g.Role.ToString() },
                _ => throw new ArgumentOutOfRangeException(nameof(message), m.GetType().Name, "not a mention"),
            }))]),
        };
        if (message.Image is { } image)
            o["image"] = new JsonObject { ["fileName"] = image.FileName, ["altText"] = image.AltText, ["content"] = Convert.ToBase64String(image.Content.Span) };
        return o.ToJsonString();
    }

    public static ChatMessage ReadMessage(string json)
    {
        var o = JsonNode.Parse(json)!.AsObject();
        MessageImage? image = o["image"] is JsonObject i
            ? new MessageImage(Convert.FromBase64String((string)i["content"]!), (string)i["fileName"]!, (string)i["altText"]!)
            : null;
        return new ChatMessage((string)o["title"]!, (string?)o["status"])
        {
            Footer = (string?)o["footer"],
            Fields = o["fields"]!.AsArray().Select(f => new MessageField((string)f!["label"]!, (string)f["value"]!, (bool)f["inline"]!)).ToList(),
            Checklists = o["checklists"]!.AsArray().Select(c => new ChecklistSection((string)c!["heading"]!,
                c["lines"]!.AsArray().Select(l => new ChecklistLine(Enum.Parse<ChecklistState>((string)l!["state"]!), (string)l["text"]!,
                    (string?)l["role"] is { } role ? Enum.Parse<SignOffRole>(role) : null)).ToList())).ToList(),
            Mentions = o["mentions"]!.AsArray().Select(m => (string?)m!["user"] is { } user
                ? (Mention)new Mention.User(user)
                : new Mention.RoleGroup(Enum.Parse<SignOffRole>((string)m["role"]!))).ToList(),
            Image = image,
        };
    }

    public static string Write(Caller caller) =>
        new JsonObject { ["channel"] = caller.ChannelId, ["user"] = caller.UserId, ["replyHandle"] = caller.ReplyHandle }.ToJsonString();

    public static Caller ReadCaller(string json)
    {
        var o = JsonNode.Parse(json)!.AsObject();
        return new Caller((string)o["channel"]!, (string)o["user"]!, (string?)o["replyHandle"]);
    }
}
