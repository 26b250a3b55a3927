using ChatOps.Core.Conversation;
using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>What an outbox row asks the platform to do.</summary>
public enum OutboxKind
{
    /// <summary>A bot message in the channel (a card, a prompt, an alert, an answer for everyone).</summary>
    Post,
    /// <summary>A reply in the thread of an earlier message.</summary>
    Reply,
    /// <summary>An earlier message, edited in place.</summary>
    Edit,
    /// <summary>The bot's own reaction on an earlier message.</summary>
    React,
    /// <summary>An answer only the caller sees.</summary>
    Private,
}

/// <summary>One message to send, as the dispatcher reads it.</summary>
/// <param name="Key">The message's own key (a post or a reply): what later edits, replies and reactions name.</param>
/// <param name="Target">The key of the earlier message an edit, reply or reaction is about.</param>
public sealed record OutboxMessage(long Id, string Platform, string Channel, OutboxKind Kind, string? Key, string? Target, Caller? Caller,
    ChatMessage? Message, ReactionEmoji? Emoji, int Attempts, DateTimeOffset NotBefore);

/// <summary>The outbox's size, for <c>/readyz</c> and <c>/metrics</c>.</summary>
/// <param name="OldestPending">When the oldest message still to send was written; null when none waits.</param>
public sealed record OutboxDepth(long Pending, long Parked, DateTimeOffset? OldestPending, string? LastParkedError);

/// <summary>
/// Messages to send, in the state database, written in the same transaction as the state change that caused them. The core
/// gets a key for each post at once (<see cref="MessageReference.MessageId"/> is the key) and names it in later edits, replies
/// and reactions; the dispatcher learns the platform's id when the platform confirms the post, and maps keys to it.
/// </summary>
public sealed class Outbox(StateConnections state, TimeProvider time)
{
    /// <summary>Raised after a message was written (committed or not): the dispatcher in this process looks sooner than its next poll.</summary>
    public event Action? Written;

    /// <summary>A new key for a post or a reply: what the core uses as the message's id until (and after) the platform confirms it.</summary>
    public static string NewKey() => "m" + Guid.CreateVersion7().ToString("N");

    /// <summary>Whether <paramref name="messageId"/> is an outbox key rather than a platform's id.</summary>
    public static bool IsKey(string messageId) => messageId.Length == 33 && messageId[0] == 'm' && messageId.Skip(1).All(char.IsAsciiHexDigitLower);

    public async Task<MessageReference> PostAsync(StateScope scope, string platform, string channel, ChatMessage message, CancellationToken cancellationToken, int? deployment = null)
    {
        var key = NewKey();
        await AddAsync(scope, platform, channel, OutboxKind.Post, key, null, null, message, null, deployment, cancellationToken);
        return new MessageReference(channel, key);
    }

    public async Task<MessageReference> ReplyAsync(StateScope scope, string platform, MessageReference parent, ChatMessage message, CancellationToken cancellationToken, int? deployment = null)
    {
        var key = NewKey();
        await AddAsync(scope, platform, parent.ChannelId, OutboxKind.Reply, key, parent.MessageId, null, message, null, deployment, cancellationToken);
        return new MessageReference(parent.ChannelId, key);
    }

    /// <summary>An edit of <paramref name="posted"/>; nothing when it would show exactly what its last version (posted or edited) shows.</summary>
    /// <returns>Whether an edit was written.</returns>
    public async Task<bool> EditAsync(StateScope scope, string platform, MessageReference posted, ChatMessage message, CancellationToken cancellationToken, int? deployment = null)
    {
        var json = ChatJson.Write(message);
        // Every reaction is handled, but most change nothing on the card: an edit that changes nothing would only spend the
        // platform's rate limit (Slack's chat.update allows ~50 a minute) and hold the channel's later messages behind it.
        // The version last written is asked of the database once per scope (a batch of reactions on one card asks once).
        var version = new LastVersionKey(platform, posted.MessageId);
        if (scope.Seen.TryGetValue(version, out var seen) ? (string)seen == json : await SameAsLastAsync(scope, platform, posted.MessageId, json, cancellationToken))
        {
            scope.Seen[version] = json;
            return false;
        }
        await AddAsync(scope, platform, posted.ChannelId, OutboxKind.Edit, null, posted.MessageId, null, message, null, deployment, cancellationToken);
        scope.Seen[version] = json;
        return true;
    }

    private readonly record struct LastVersionKey(string Platform, string Message);

    private static async Task<bool> SameAsLastAsync(StateScope scope, string platform, string messageKey, string json, CancellationToken cancellationToken)
    {
        await using var last = scope.Command("""
            SELECT message = $3::jsonb FROM chatops_state.outbox
            WHERE platform = $1 AND ((kind = 'Edit' AND target = $2) OR (kind = 'Post' AND key = $2)) ORDER BY id DESC LIMIT 1
            """, platform, messageKey, json);
        return await last.ExecuteScalarAsync(cancellationToken) is true;
    }

    public Task ReactAsync(StateScope scope, string platform, MessageReference posted, ReactionEmoji emoji, CancellationToken cancellationToken) =>
        AddAsync(scope, platform, posted.ChannelId, OutboxKind.React, null, posted.MessageId, null, null, emoji, null, cancellationToken);

    public Task PrivateAsync(StateScope scope, string platform, Caller caller, ChatMessage message, CancellationToken cancellationToken) =>
        AddAsync(scope, platform, caller.ChannelId, OutboxKind.Private, null, null, caller, message, null, null, cancellationToken);

    private async Task AddAsync(StateScope scope, string platform, string channel, OutboxKind kind, string? key, string? target, Caller? caller,
        ChatMessage? message, ReactionEmoji? emoji, int? deployment, CancellationToken cancellationToken)
    {
        await scope.ExecuteAsync("""
            INSERT INTO chatops_state.outbox (platform, channel, kind, key, target, caller, message, emoji, deployment, created_at, not_before)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
            """, cancellationToken, platform, channel, kind.ToString(), StateSql.Text(key), StateSql.Text(target),
            StateSql.Json(caller is null ? null : ChatJson.Write(caller)), StateSql.Json(message is null ? null : ChatJson.Write(message)),
            StateSql.Text(emoji?.ToString()), StateSql.Integer(deployment),
            time.GetUtcNow());
        Written?.Invoke();
    }

    /// <summary>The first message still to send in each of the platform's channels (order within a channel is kept: only its head may go).</summary>
    public async Task<IReadOnlyList<OutboxMessage>> HeadsAsync(string platform, CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var command = StateSql.Command(connection, $"""
            SELECT DISTINCT ON (channel) {Columns} FROM chatops_state.outbox
            WHERE platform = $1 AND sent_at IS NULL AND parked_at IS NULL ORDER BY channel, id
            """, platform);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var heads = new List<OutboxMessage>();
        while (await r.ReadAsync(cancellationToken))
            heads.Add(Read(r));
        return heads;
    }

    private const string Columns = "id, platform, channel, kind, key, target, caller::text, message::text, emoji, attempts, not_before";

    private static OutboxMessage Read(NpgsqlDataReader r) => new(r.GetInt64(0), r.GetString(1), r.GetString(2), Enum.Parse<OutboxKind>(r.GetString(3)),
        r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : ChatJson.ReadCaller(r.GetString(6)),
        r.IsDBNull(7) ? null : ChatJson.ReadMessage(r.GetString(7)), r.IsDBNull(8) ? null : Enum.Parse<ReactionEmoji>(r.GetString(8)),
        r.GetInt32(9), r.GetFieldValue<DateTimeOffset>(10));

    /// <summary>
    /// Sends one head message with <paramref name="send"/> while holding its row (another replica skips it, so each message is
    /// sent by exactly one), and marks it sent with the platform's reference once the platform confirmed it. Every edit goes, in order:
    /// people see each state the card passed through (approved, then running).
    /// </summary>
    /// <param name="send">Sends the message, given the platform's reference of its target (null when it has none); returns the platform's reference of what it posted, if anything.</param>
    public async Task<OutboxSendResult> SendAsync(OutboxMessage head, Func<OutboxMessage, MessageReference?, CancellationToken, Task<MessageReference?>> send,
        CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var claim = StateSql.Command(connection, "SELECT 1 FROM chatops_state.outbox WHERE id = $1 AND sent_at IS NULL AND parked_at IS NULL FOR UPDATE SKIP LOCKED", head.Id))
        {
            if (await claim.ExecuteScalarAsync(cancellationToken) is null)
                return OutboxSendResult.Skipped;
        }
        MessageReference? target = null;
        if (head.Target is { } targetKey)
        {
            target = await ReferenceAsync(connection, head.Platform, targetKey, cancellationToken);
            if (target is null && !IsKey(targetKey))
                target = new MessageReference(head.Channel, targetKey);   // a platform message the core named directly
            if (target is null)
            {
                // Its message was never posted (parked, or never written): this one cannot go either, and says why.
                await StateSql.ExecuteAsync(connection, "UPDATE chatops_state.outbox SET parked_at = $2, last_error = $3 WHERE id = $1", cancellationToken,
                    head.Id, time.GetUtcNow(), $"the message it is about ({targetKey}) was never posted");
                await transaction.CommitAsync(cancellationToken);
                return OutboxSendResult.Parked;
            }
        }
        var posted = await send(head, target, cancellationToken);
        await StateSql.ExecuteAsync(connection, "UPDATE chatops_state.outbox SET sent_at = $2, platform_channel = $3, platform_id = $4, attempts = attempts + 1 WHERE id = $1",
            cancellationToken, head.Id, time.GetUtcNow(), StateSql.Text(posted?.ChannelId), StateSql.Text(posted?.MessageId));
        await transaction.CommitAsync(CancellationToken.None);
        return OutboxSendResult.Sent;
    }

    /// <summary>A failed attempt: tried again at <paramref name="retryAt"/>, or parked (kept, raised on <c>/readyz</c>, never dropped) when null.</summary>
    public Task FailedAsync(long id, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken) => retryAt is { } at
        ? state.ExecuteAsync("UPDATE chatops_state.outbox SET attempts = attempts + 1, not_before = $2, last_error = $3 WHERE id = $1", cancellationToken, id, at, error)
        : state.ExecuteAsync("UPDATE chatops_state.outbox SET attempts = attempts + 1, parked_at = $2, last_error = $3 WHERE id = $1", cancellationToken, id, time.GetUtcNow(), error);

    /// <summary>The key of the message the platform knows as <paramref name="platformMessageId"/>, or null when the bot did not post it.</summary>
    public async Task<string?> KeyOfAsync(string platform, string platformMessageId, CancellationToken cancellationToken)
    {
        // A posted message's platform id never changes: every reaction on a card asks for the same one.
        if (_keys.TryGet((platform, platformMessageId), out var known))
            return known;
        var key = await state.ScalarAsync<string>("SELECT key FROM chatops_state.outbox WHERE platform = $1 AND platform_id = $2 AND key IS NOT NULL LIMIT 1",
            cancellationToken, platform, platformMessageId);
        return key is null ? null : _keys.Keep((platform, platformMessageId), key);
    }

    private readonly ChatOps.Core.Caching.BoundedCache<(string Platform, string PlatformId), string> _keys = new(10_000);

    /// <summary>
    /// The highest number among the platform's message ids written <paramref name="prefix"/>&lt;number&gt; (the local channel's <c>L7</c>),
    /// 0 when there is none: a restarted local channel numbers on from there.
    /// </summary>
    public async Task<int> LastNumberedIdAsync(string platform, string prefix, CancellationToken cancellationToken) =>
        await state.ScalarAsync<int>("""
            SELECT coalesce(max(substr(platform_id, length($2) + 1)::int), 0) FROM chatops_state.outbox
            WHERE platform = $1 AND starts_with(platform_id, $2) AND substr(platform_id, length($2) + 1) ~ '^[0-9]+$'
            """, cancellationToken, platform, prefix);

    /// <summary>The platform's reference for the message <paramref name="key"/> names, once it was posted.</summary>
    public async Task<MessageReference?> PlatformReferenceAsync(string platform, string key, CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        return await ReferenceAsync(connection, platform, key, cancellationToken);
    }

    private static async Task<MessageReference?> ReferenceAsync(NpgsqlConnection connection, string platform, string key, CancellationToken cancellationToken)
    {
        await using var command = StateSql.Command(connection,
            "SELECT platform_channel, platform_id FROM chatops_state.outbox WHERE platform = $1 AND key = $2 AND sent_at IS NOT NULL AND platform_id IS NOT NULL", platform, key);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? new MessageReference(r.GetString(0), r.GetString(1)) : null;
    }

    public async Task<OutboxDepth> DepthAsync(CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL), count(*) FILTER (WHERE parked_at IS NOT NULL),
                   min(created_at) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL),
                   (SELECT last_error FROM chatops_state.outbox WHERE parked_at IS NOT NULL ORDER BY parked_at DESC LIMIT 1)
            FROM chatops_state.outbox WHERE sent_at IS NULL
            """, connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return new OutboxDepth(r.GetInt64(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), r.IsDBNull(3) ? null : r.GetString(3));
    }
}

/// <summary>What became of one <see cref="Outbox.SendAsync"/>.</summary>
public enum OutboxSendResult
{
    /// <summary>The platform confirmed it.</summary>
    Sent,
    /// <summary>Another replica holds it, or it went meanwhile.</summary>
    Skipped,
    /// <summary>It could not go (the message it is about was never posted): kept, and raised.</summary>
    Parked,
}
