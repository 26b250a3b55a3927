namespace ChatOps.Core.Conversation;

/// <summary>
/// A message the platform has posted, as it identifies it: the channel and the platform's id for the message
/// (Slack's <c>ts</c>, Discord's snowflake, the local channel's counter). Opaque to the core.
/// </summary>
public sealed record MessageReference(string ChannelId, string MessageId);

/// <summary>The emoji whose meaning the core knows; every platform's names for them are normalised to these.</summary>
public enum ReactionEmoji
{
    /// <summary>Anything else: it signs nothing and rolls nothing back (but is still audited).</summary>
    Other,
    /// <summary>The sign-off emoji: Slack <c>white_check_mark</c>, Discord and Local ✅.</summary>
    SignOff,
    /// <summary>The rollback emoji: Slack <c>rewind</c>, Discord and Local ⏪.</summary>
    Rollback,
}

/// <summary>
/// The port every chat platform implements (Slack, Discord, the local console). The core says what to post; the adapter
/// renders the <see cref="ChatMessage"/> and deals with the wire, rate limits and retries.
/// </summary>
public interface IChatChannel
{
    /// <summary>The bot's own user id on the platform: its reactions (the ⏪ it adds to a prompt) never count.</summary>
    string BotUserId { get; }

    /// <summary>Posts <paramref name="message"/> as a bot message in the channel (never as a command reply, which cannot be edited later).</summary>
    Task<MessageReference> PostAsync(string channelId, ChatMessage message, CancellationToken cancellationToken);

    /// <summary>Replaces a posted message with <paramref name="message"/>: the card is edited in place.</summary>
    Task EditAsync(MessageReference posted, ChatMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// A reply only the caller sees, where the platform allows (Slack's ephemeral message, Discord's ephemeral
    /// interaction reply): errors, help and refusals meant for the caller, not the channel.
    /// </summary>
    Task ReplyToUserAsync(Caller caller, ChatMessage message, CancellationToken cancellationToken);

    /// <summary>Replies in <paramref name="parent"/>'s thread: chatter goes there, only alerts go to the channel.</summary>
    Task<MessageReference> ReplyInThreadAsync(MessageReference parent, ChatMessage message, CancellationToken cancellationToken);

    /// <summary>Adds the bot's own reaction (the rollback emoji on a rollback prompt, say) so people can click it.
    /// <see cref="ReactionEmoji.Other"/> has no platform name: adapters refuse it with <see cref="ArgumentOutOfRangeException"/>.</summary>
    Task AddReactionAsync(MessageReference posted, ReactionEmoji emoji, CancellationToken cancellationToken);

    /// <summary>
    /// The platform groups <paramref name="userId"/> belongs to (Slack user-group ids, Discord role ids), for role entries
    /// written <c>group:&lt;id&gt;</c> in <c>ChatOps:Roles</c>. Adapters cache it briefly; a platform without groups answers empty.
    /// </summary>
    Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken);
}

/// <summary>Who to answer, and how: the channel and person a command came from, with the platform's handle for a private reply.</summary>
/// <param name="ReplyHandle">
/// Opaque to the core: what the adapter needs to answer this command privately (Slack's <c>response_url</c>, Discord's
/// interaction token); null where the adapter can answer without one.
/// </param>
public sealed record Caller(string ChannelId, string UserId, string? ReplyHandle = null);

/// <summary>
/// Where an adapter hands what people did: it acknowledges the platform only after <see cref="AcceptAsync"/> returned, so an
/// event is either durably taken (and handled once, even when the platform delivers it twice or a replica dies) or the
/// platform is told to deliver it again.
/// </summary>
public interface IChatInbox
{
    /// <summary>Takes <paramref name="chatEvent"/> for handling; false when its <see cref="ChatEvent.EventId"/> was taken before (a redelivery).</summary>
    Task<bool> AcceptAsync(ChatEvent chatEvent, CancellationToken cancellationToken);
}

/// <summary>Something a person did in a channel that the core has to answer.</summary>
/// <param name="UserId">The platform's id for the person.</param>
/// <param name="EventId">The platform's id for the event (Slack's <c>event_id</c>, Discord's interaction id), so a redelivered one is handled once.</param>
public abstract record ChatEvent(string UserId, string ChannelId, string EventId);

/// <summary>A <c>/migrate …</c> command, from a slash command, an interaction or a console line.</summary>
/// <param name="Text">The command line as typed, <c>/migrate</c> included or not (the grammar reads the rest).</param>
/// <param name="ReplyHandle">What the adapter needs to answer the caller privately (see <see cref="Caller.ReplyHandle"/>).</param>
public sealed record CommandReceived(string Text, string UserId, string ChannelId, string EventId, string? ReplyHandle = null)
    : ChatEvent(UserId, ChannelId, EventId)
{
    /// <summary>Where the answer meant for the caller alone goes.</summary>
    public Caller Caller => new(ChannelId, UserId, ReplyHandle);
}

/// <summary>A reaction added to a message.</summary>
/// <param name="Emoji">What it means to the core.</param>
/// <param name="EmojiName">The platform's name or character, for the audit trail ("wrong emoji: :thumbsup:").</param>
public sealed record ReactionAdded(string UserId, MessageReference Message, ReactionEmoji Emoji, string EmojiName, string EventId)
    : ChatEvent(UserId, Message.ChannelId, EventId);

/// <summary>A reaction removed from a message (a sign-off revoked, until execution starts).</summary>
public sealed record ReactionRemoved(string UserId, MessageReference Message, ReactionEmoji Emoji, string EmojiName, string EventId)
    : ChatEvent(UserId, Message.ChannelId, EventId);

/// <summary>
/// Everyone who has the sign-off reaction on a card now, as the platform lists them after a disconnect or a restart: a ✅ added
/// meanwhile signs, and a sign-off given by a ✅ that is gone is revoked (one given by <c>approve</c> stands). Nobody's act, so
/// <see cref="ChatEvent.UserId"/> is empty.
/// </summary>
/// <param name="Users">Who reacted ✅ (the adapter leaves the bot out; the core ignores it anyway), every page of the listing.</param>
/// <param name="EventId">Unique to the session and the card, so a session's listing is handled once.</param>
/// <param name="ListedAt">When the listing was read (taken before its first page was asked for): a live ✅ or removal handled after it
/// is newer than the listing, which then leaves it alone. Null for a listing stored before the bot recorded it: no such guard.</param>
public sealed record SignOffReactionsListed(MessageReference Card, IReadOnlyList<string> Users, string EventId, DateTimeOffset? ListedAt = null)
    : ChatEvent("", Card.ChannelId, EventId);

/// <summary>
/// A person's reply in a message's thread (<paramref name="Parent"/> is the message the thread hangs on): under a deployment's card it is
/// kept in the deployment's audit trail — the lessons learned the final report asks for.
/// </summary>
public sealed record ThreadReplied(string UserId, MessageReference Parent, string Text, string EventId)
    : ChatEvent(UserId, Parent.ChannelId, EventId);

/// <summary>Reads an emoji as a character (✅) or as a Slack-style name (<c>white_check_mark</c>, <c>:rewind:</c>).</summary>
public static class ReactionEmojis
{
    /// <summary>The sign-off emoji, the rollback emoji, or <see cref="ReactionEmoji.Other"/>.</summary>
    public static ReactionEmoji Read(string nameOrCharacter)
    {
        // U+FE0F (emoji presentation) is sent by some keyboards and not by others: ⏪ and ⏪️ are the same reaction.
        var text = nameOrCharacter.Trim().Replace("\uFE0F", "", StringComparison.Ordinal).Trim(':');
        return text switch
        {
            "✅" or "white_check_mark" => ReactionEmoji.SignOff,
            "⏪" or "rewind" => ReactionEmoji.Rollback,
            _ => ReactionEmoji.Other,
        };
    }

    /// <summary>The character the local channel and Discord show (✅, ⏪); null for <see cref="ReactionEmoji.Other"/>.</summary>
    public static string? Character(this ReactionEmoji emoji) => emoji switch
    {
        ReactionEmoji.SignOff => "✅",
        ReactionEmoji.Rollback => "⏪",
        _ => null,
    };
}
