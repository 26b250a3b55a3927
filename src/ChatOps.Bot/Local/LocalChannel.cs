using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;

namespace ChatOps.Bot.Local;

/// <summary>
/// The local platform's <see cref="IChatChannel"/>: prints the conversation to a <see cref="TextWriter"/> (the console in
/// production) as <see cref="PlainTextRenderer"/> renders it. Message ids are a counter (<c>L1</c>, <c>L2</c> …) per
/// instance, and there is one instance per process. Safe to call from several threads: each message is printed whole.
/// </summary>
public sealed class LocalChannel : IChatChannel
{
    /// <summary>Who the channel shows as reacting when the bot adds its own reaction.</summary>
    public const string BotUser = "bot";

    /// <inheritdoc />
    public string BotUserId => BotUser;

    private readonly TextWriter _writer;
    // One lock for the writer, the counter, the messages and the transcript: the conductor posts from background tasks,
    // and a header must never be separated from its body by another thread's lines.
    private readonly Lock _gate = new();
    private readonly Dictionary<MessageReference, Posted> _messages = [];
    private readonly List<string> _printed = [];
    private int _lastId;

    private sealed record Posted(ChatMessage Message, MessageReference? Parent);

    private readonly int _firstId;

    /// <param name="writer">Where the conversation is printed: <see cref="Console.Out"/>, or a <see cref="StringWriter"/> in tests.</param>
    /// <param name="firstId">
    /// The first message id this session gives (<c>L&lt;firstId&gt;</c>): after a restart, ids go on from the last session's, so no two
    /// messages share one, and messages of earlier sessions (ids below it) can still be replied to and edited.
    /// </param>
    public LocalChannel(TextWriter writer, int firstId = 1)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfLessThan(firstId, 1);
        _writer = writer;
        _firstId = firstId;
        _lastId = firstId - 1;
    }

    /// <summary>
    /// Who holds each role: a role's mention then names them (<c>@Database Administrator (dana, olga)</c>), as a platform's mention
    /// would notify them; without it, or for a role nobody holds, <c>@Database Administrator holders</c>.
    /// </summary>
    public RoleHolders? Holders { get; init; }

    /// <summary>Everything printed so far, one entry per print (a whole message, a reaction line, a notice), in order.</summary>
    public IReadOnlyList<string> Printed
    {
        get
        {
            lock (_gate)
                return [.. _printed];
        }
    }

    /// <summary>The last version of a message this channel posted or replied (edits included); null when it has none by that reference.</summary>
    public ChatMessage? Message(MessageReference posted)
    {
        ArgumentNullException.ThrowIfNull(posted);
        lock (_gate)
            return _messages.TryGetValue(posted, out var found) ? found.Message : null;
    }

    /// <inheritdoc />
    /// <remarks>Prints <c>── #ops · message L3 ──</c> and the message under it.</remarks>
    public Task<MessageReference> PostAsync(string channelId, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(channelId);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var posted = new MessageReference(channelId, $"L{++_lastId}");
            _messages[posted] = new Posted(message, Parent: null);
            PrintLocked(Header(posted, edited: false) + "\n" + PlainTextRenderer.Render(message, AsText));
            return Task.FromResult(posted);
        }
    }

    /// <inheritdoc />
    /// <remarks>The console has one reader: printed under <c>── #ops · only for ana ──</c>, with no message id (nobody can react on it).</remarks>
    public Task ReplyToUserAsync(Caller caller, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
            PrintLocked($"── #{caller.ChannelId} · only for {caller.UserId} ──\n" + PlainTextRenderer.Render(message, AsText));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>The console has no groups: role entries name users.</remarks>
    public Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlySet<string>>(new HashSet<string>());

    /// <inheritdoc />
    /// <remarks>The console cannot change what it printed, so the whole message is printed again under
    /// <c>── #ops · message L3 (edited) ──</c> (a thread reply: indented, under <c>↳ in thread of L3 (edited)</c>).</remarks>
    public Task EditAsync(MessageReference posted, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(posted);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var previous = Find(posted);
            _messages[posted] = previous with { Message = message };
            PrintLocked(previous.Parent is { } parent
                ? ThreadLine(parent, edited: true) + "\n" + PlainTextRenderer.IndentReply(PlainTextRenderer.Render(message, AsText))
                : Header(posted, edited: true) + "\n" + PlainTextRenderer.Render(message, AsText));
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>Prints <c>  ↳ in thread of L3</c> and the reply indented under it; the reply gets the next id.</remarks>
    public Task<MessageReference> ReplyInThreadAsync(MessageReference parent, ChatMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Find(parent);
            var reply = new MessageReference(parent.ChannelId, $"L{++_lastId}");
            _messages[reply] = new Posted(message, parent);
            PrintLocked(ThreadLine(parent, edited: false) + "\n" + PlainTextRenderer.IndentReply(PlainTextRenderer.Render(message, AsText)));
            return Task.FromResult(reply);
        }
    }

    /// <inheritdoc />
    /// <remarks>Prints <c>✅ bot reacted on L3</c>.</remarks>
    public Task AddReactionAsync(MessageReference posted, ReactionEmoji emoji, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(posted);
        // Other has no character to show, and the port says every adapter refuses it the same way.
        var character = emoji.Character()
            ?? throw new ArgumentOutOfRangeException(nameof(emoji), emoji, "the bot reacts only with the sign-off or the rollback emoji");
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Find(posted);
            // PlainTextRenderer.ReactionLine names a deployment; the bot reacts on a message, which is all the port gives.
            PrintLocked($"{character} {BotUser} reacted on {posted.MessageId}");
        }
        return Task.CompletedTask;
    }

    /// <summary>Prints a line that is not a chat message (a notice, an input error), in order with the messages and never inside one.</summary>
    public void Print(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        lock (_gate)
            PrintLocked(text);
    }

    private string AsText(Mention mention) =>
        mention is Mention.RoleGroup { Role: var role } && Holders?.HoldersOf(role) is { Count: > 0 } holders
            ? $"@{role.Title()} ({string.Join(", ", holders.Order(StringComparer.Ordinal))})"
            : InlineMention.AsPlainText(mention);

    private static string Header(MessageReference posted, bool edited) =>
        $"── #{posted.ChannelId} · message {posted.MessageId}{(edited ? " (edited)" : "")} ──";

    private static string ThreadLine(MessageReference parent, bool edited) =>
        $"  ↳ in thread of {parent.MessageId}{(edited ? " (edited)" : "")}";

    private Posted Find(MessageReference posted) =>
        _messages.TryGetValue(posted, out var found)
            ? found
            : EarlierSession(posted)
                // A message an earlier session printed: this one cannot show it, but it exists (a restarted bot edits its cards).
                ? new Posted(new ChatMessage($"(message {posted.MessageId}, posted before this session)"), Parent: null)
                // A real platform answers "message not found" too; a silent no-op would hide a conductor bug.
                : throw new ArgumentException($"the local channel has no message {posted.MessageId} in #{posted.ChannelId}", nameof(posted));

    private bool EarlierSession(MessageReference posted) =>
        posted.MessageId.StartsWith('L') && int.TryParse(posted.MessageId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture, out var n) && n < _firstId;

    private void PrintLocked(string text)
    {
        _printed.Add(text);
        // "\n", not WriteLine: the renderer's lines end with \n whatever the platform, so a transcript reads the same everywhere.
        _writer.Write(text + "\n");
        _writer.Flush();
    }
}
