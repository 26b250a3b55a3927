using ChatOps.Bot.Local;
using ChatOps.Core.Conversation;

namespace ChatOps.Bot.Tests;

/// <summary>
/// A platform around the local channel with one behaviour changed — calls that fail, platform groups — for tests that need it
/// (a hand-written fake of our own port; the console does the rest).
/// </summary>
internal abstract class WrappedChannel(LocalChannel inner) : IChatChannel
{
    /// <summary>Runs before every call that reaches the platform (posts, edits, replies, reactions): throw here to fail it.</summary>
    protected virtual void BeforeCall()
    {
    }

    public string BotUserId => inner.BotUserId;

    public Task<MessageReference> PostAsync(string channelId, ChatMessage message, CancellationToken cancellationToken)
    {
        BeforeCall();
        return inner.PostAsync(channelId, message, cancellationToken);
    }

    public Task EditAsync(MessageReference posted, ChatMessage message, CancellationToken cancellationToken)
    {
        BeforeCall();
        return inner.EditAsync(posted, message, cancellationToken);
    }

    public Task ReplyToUserAsync(Caller caller, ChatMessage message, CancellationToken cancellationToken)
    {
        BeforeCall();
        return inner.ReplyToUserAsync(caller, message, cancellationToken);
    }

    public Task<MessageReference> ReplyInThreadAsync(MessageReference parent, ChatMessage message, CancellationToken cancellationToken)
    {
        BeforeCall();
        return inner.ReplyInThreadAsync(parent, message, cancellationToken);
    }

    public Task AddReactionAsync(MessageReference posted, ReactionEmoji emoji, CancellationToken cancellationToken)
    {
        BeforeCall();
        return inner.AddReactionAsync(posted, emoji, cancellationToken);
    }

    public virtual Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken) => inner.GroupsOfAsync(userId, cancellationToken);
}
