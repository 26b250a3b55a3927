using System.Text.Json;
using ChatOps.Core.Conversation;

namespace ChatOps.Slack;

/// <summary>
/// Slack payloads to the core's events, and nothing else: pure, so the HTTP endpoints and Socket Mode, which receive the
/// same payloads, translate them the same way.
/// </summary>
internal static class SlackPayloads
{
    /// <summary>
    /// A slash command's fields (the form over HTTP, the payload object over Socket Mode) as the core's command; the
    /// <c>trigger_id</c> is its event id (a redelivery carries the same), <c>response_url</c> its private reply handle.
    /// </summary>
    public static CommandReceived? Command(IReadOnlyDictionary<string, string> fields, out string? problem)
    {
        string? Field(string name) => fields.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;
        var missing = new[] { "user_id", "channel_id", "trigger_id" }.Where(n => Field(n) is null).ToList();
        if (missing.Count > 0)
        {
            problem = "slash command without " + string.Join(", ", missing);
            return null;
        }
        problem = null;
        // Whatever the command is called in the app's settings, the core's grammar reads /migrate.
        var text = (MigrateGrammar.SlashCommand + " " + (Field("text") ?? "")).TrimEnd();
        return new CommandReceived(text, Field("user_id")!, Field("channel_id")!, Field("trigger_id")!, Field("response_url"));
    }

    /// <summary>A JSON object's members as strings (Socket Mode sends slash commands as an object of strings).</summary>
    public static IReadOnlyDictionary<string, string> Fields(JsonElement payload)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (payload.ValueKind != JsonValueKind.Object)
            return fields;
        foreach (var member in payload.EnumerateObject())
            fields[member.Name] = member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString()! : member.Value.GetRawText();
        return fields;
    }

    /// <summary>
    /// An Events API <c>event_callback</c> as the core's reaction event; null (with why) for anything else: other event
    /// types, reactions on files, malformed events. Every reaction on a message goes through: the core knows its own messages.
    /// </summary>
    public static ChatEvent? Event(JsonElement envelope, out string why)
    {
        if (String(envelope, "type") != "event_callback")
        {
            why = $"envelope type '{String(envelope, "type")}'";
            return null;
        }
        if (String(envelope, "event_id") is not { } eventId || !envelope.TryGetProperty("event", out var ev) || ev.ValueKind != JsonValueKind.Object)
        {
            why = "event_callback without event_id or event";
            return null;
        }
        var type = String(ev, "type");
        if (type == "message")
            return ThreadReply(ev, eventId, out why);
        if (type is not ("reaction_added" or "reaction_removed"))
        {
            why = $"event type '{type}'";
            return null;
        }
        if (!ev.TryGetProperty("item", out var item) || String(item, "type") != "message")
        {
            why = $"{type} on something other than a message";
            return null;
        }
        if (String(ev, "user") is not { } user || String(ev, "reaction") is not { } reaction
            || String(item, "channel") is not { } channel || String(item, "ts") is not { } ts)
        {
            why = $"{type} without user, reaction, item.channel or item.ts";
            return null;
        }
        why = type;
        var message = new MessageReference(channel, ts);
        var emoji = ReactionEmojis.Read(reaction);
        return type == "reaction_added"
            ? new ReactionAdded(user, message, emoji, reaction, eventId)
            : new ReactionRemoved(user, message, emoji, reaction, eventId);
    }

    /// <summary>
    /// A person's message in a thread (<c>thread_ts</c> set, no <c>subtype</c>: not an edit, a join or a bot's own post) as the core's
    /// <see cref="ThreadReplied"/> on the thread's parent; null for any other message.
    /// </summary>
    private static ChatEvent? ThreadReply(JsonElement ev, string eventId, out string why)
    {
        if (String(ev, "subtype") is { } subtype || String(ev, "bot_id") is not null)
        {
            why = $"message {(String(ev, "bot_id") is not null ? "from a bot" : $"subtype '{String(ev, "subtype")}'")}";
            return null;
        }
        if (String(ev, "thread_ts") is not { } parent || String(ev, "ts") == parent)
        {
            why = "a message outside a thread";
            return null;
        }
        if (String(ev, "user") is not { } user || String(ev, "channel") is not { } channel || String(ev, "text") is not { } text)
        {
            why = "message without user, channel or text";
            return null;
        }
        why = "thread reply";
        return new ThreadReplied(user, new MessageReference(channel, parent), text, eventId);
    }

    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
