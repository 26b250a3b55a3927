using ChatOps.Core.Conversation;
using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>An event taken from the inbox for handling: its place in line, its platform and what happened.</summary>
public sealed record InboxEvent(long Seq, string Platform, ChatEvent Event, int Attempts);

/// <summary>
/// What people did, as the platforms delivered it, in the state database: an event is kept once per platform event id (a
/// redelivery, even a concurrent one, is refused by the primary key), and handled in arrival order by one replica at a time,
/// in the same transaction as the state changes it causes.
/// </summary>
public sealed class Inbox(StateConnections state, TimeProvider time)
{
    // 'CHIN': one replica at a time handles the inbox, so events are handled in the order they arrived.
    private const int HandlerLock = 0x4348494E;
    private long _accepted;
    private long _duplicates;

    /// <summary>Raised after an event was accepted, so the handler in this process need not wait for its next poll.</summary>
    public event Action? Accepted;

    /// <summary>Events accepted and redeliveries refused since start-up (for <c>/metrics</c>).</summary>
    public (long Accepted, long Duplicates) Counts => (Interlocked.Read(ref _accepted), Interlocked.Read(ref _duplicates));

    /// <summary>The inbox of one platform, as the adapters see it.</summary>
    public IChatInbox For(string platform) => new PlatformInbox(this, platform);

    /// <summary>Keeps the event unless its id was kept before; false for a redelivery.</summary>
    public async Task<bool> AcceptAsync(string platform, ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        var kept = await StateSql.ExecuteAsync(connection, """
            INSERT INTO chatops_state.inbox (platform, event_id, kind, event, received_at) VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (platform, event_id) DO NOTHING
            """, cancellationToken, platform, chatEvent.EventId, chatEvent.GetType().Name, ChatJson.Write(chatEvent), time.GetUtcNow()) == 1;
        Interlocked.Increment(ref kept ? ref _accepted : ref _duplicates);
        if (kept)
            Accepted?.Invoke();
        return kept;
    }

    /// <summary>
    /// The oldest event not yet handled of the <paramref name="platforms"/> this replica serves, locked in <paramref name="scope"/>;
    /// null when there is none or another replica is handling the inbox now. Mark it with <see cref="HandledAsync"/> in the same scope.
    /// (Another platform's events wait for a replica that serves it, without holding up these.)
    /// </summary>
    public async Task<InboxEvent?> NextAsync(StateScope scope, IReadOnlyCollection<string> platforms, CancellationToken cancellationToken)
    {
        await using (var claim = scope.Command($"SELECT pg_try_advisory_xact_lock({HandlerLock})"))
            if (!(bool)(await claim.ExecuteScalarAsync(cancellationToken))!)
                return null;
        await using var command = scope.Command("""
            SELECT seq, platform, event::text, attempts FROM chatops_state.inbox WHERE handled_at IS NULL AND platform = ANY($1) ORDER BY seq LIMIT 1
            """, (object)platforms.ToArray());
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? new InboxEvent(r.GetInt64(0), r.GetString(1), ChatJson.ReadEvent(r.GetString(2)), r.GetInt32(3)) : null;
    }

    /// <summary>Marks the event handled (in the scope of its effects).</summary>
    public Task HandledAsync(StateScope scope, long seq, string outcome, CancellationToken cancellationToken) =>
        scope.ExecuteAsync("UPDATE chatops_state.inbox SET handled_at = $2, outcome = $3 WHERE seq = $1", cancellationToken, seq, time.GetUtcNow(), outcome);

    /// <summary>Counts a failed attempt at handling the event (its effects were rolled back).</summary>
    public Task FailedAsync(long seq, string why, CancellationToken cancellationToken) =>
        state.ExecuteAsync("UPDATE chatops_state.inbox SET attempts = attempts + 1, outcome = $2 WHERE seq = $1", cancellationToken, seq, why);

    /// <summary>How many events of <paramref name="platforms"/> wait to be handled.</summary>
    public Task<long> PendingAsync(IReadOnlyCollection<string> platforms, CancellationToken cancellationToken) =>
        state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.inbox WHERE handled_at IS NULL AND platform = ANY($1)", cancellationToken, (object)platforms.ToArray());

    private sealed class PlatformInbox(Inbox inbox, string platform) : IChatInbox
    {
        public Task<bool> AcceptAsync(ChatEvent chatEvent, CancellationToken cancellationToken) => inbox.AcceptAsync(platform, chatEvent, cancellationToken);
    }
}
