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
    /// <remarks>
    /// Accepts that arrive together are written together: one writer takes every accept waiting and keeps them in one
    /// <c>INSERT</c> (one session, one commit, arrival order kept), so a burst of acknowledgements costs one round trip rather
    /// than a session each. The caller is answered only once its event is committed.
    /// </remarks>
    public async Task<bool> AcceptAsync(string platform, ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        var pending = new PendingAccept(platform, chatEvent.EventId, chatEvent.GetType().Name, ChatJson.Write(chatEvent), time.GetUtcNow());
        _pending.Writer.TryWrite(pending);
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
            _ = Task.Run(WriteAsync, CancellationToken.None);
        // A caller that stops waiting (the platform hung up) leaves its event to be written: a redelivery then finds it kept.
        var kept = await pending.Kept.Task.WaitAsync(cancellationToken);
        Interlocked.Increment(ref kept ? ref _accepted : ref _duplicates);
        if (kept)
            Accepted?.Invoke();
        return kept;
    }

    /// <summary>The most accepts one <c>INSERT</c> keeps.</summary>
    private const int MostAcceptsAtOnce = 500;

    private readonly System.Threading.Channels.Channel<PendingAccept> _pending =
        System.Threading.Channels.Channel.CreateUnbounded<PendingAccept>(new() { SingleReader = true });

    // 1 while a writer runs: at most one at a time, started by the accept that finds none.
    private int _writing;

    private sealed record PendingAccept(string Platform, string EventId, string Kind, string Json, DateTimeOffset ReceivedAt)
    {
        public TaskCompletionSource<bool> Kept { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task WriteAsync()
    {
        while (true)
        {
            var batch = new List<PendingAccept>();
            while (batch.Count < MostAcceptsAtOnce && _pending.Reader.TryRead(out var next))
                batch.Add(next);
            if (batch.Count == 0)
            {
                Volatile.Write(ref _writing, 0);
                // An accept queued after the last read but before the flag dropped found a writer running: look once more.
                if (!_pending.Reader.TryPeek(out _) || Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
                    return;
                continue;
            }
            try
            {
                await KeepAsync(batch);
            }
            catch (Exception ex)
            {
                // Nothing was kept: every caller hears it (Slack answers 500 and delivers again; the Gateway reconnects and replays).
                foreach (var p in batch)
                    p.Kept.TrySetException(ex);
            }
        }
    }

    private async Task KeepAsync(List<PendingAccept> batch)
    {
        // The same event twice in one batch (a redelivery racing its original): the first is written, the later ones are redeliveries.
        var first = batch.DistinctBy(p => (p.Platform, p.EventId)).ToList();
        foreach (var later in batch.Except(first))
            later.Kept.TrySetResult(false);
        await using var connection = await state.OpenAsync(CancellationToken.None);
        await using var command = StateSql.Command(connection, """
            INSERT INTO chatops_state.inbox (platform, event_id, kind, event, received_at)
            SELECT platform, event_id, kind, event::jsonb, received_at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS a(platform, event_id, kind, event, received_at, n)
            ORDER BY n
            ON CONFLICT (platform, event_id) DO NOTHING
            RETURNING platform, event_id
            """, first.Select(p => p.Platform).ToArray(), first.Select(p => p.EventId).ToArray(), first.Select(p => p.Kind).ToArray(),
            first.Select(p => p.Json).ToArray(), first.Select(p => p.ReceivedAt).ToArray());
        var kept = new HashSet<(string, string)>();
        await using (var r = await command.ExecuteReaderAsync(CancellationToken.None))
            while (await r.ReadAsync(CancellationToken.None))
                kept.Add((r.GetString(0), r.GetString(1)));
        foreach (var p in first)
            p.Kept.TrySetResult(kept.Contains((p.Platform, p.EventId)));
    }

    /// <summary>
    /// Up to <paramref name="limit"/> of the oldest events not yet handled of the <paramref name="platforms"/> this replica serves, in
    /// arrival order, for <paramref name="scope"/> to handle together and mark with <c>HandledAsync</c>; empty when there is none or
    /// another replica is handling the inbox now. (Another platform's events wait for a replica that serves it, without holding up these.)
    /// </summary>
    public async Task<IReadOnlyList<InboxEvent>> NextAsync(StateScope scope, IReadOnlyCollection<string> platforms, int limit, CancellationToken cancellationToken)
    {
        await using (var claim = scope.Command($"SELECT pg_try_advisory_xact_lock({HandlerLock})"))
            if (!(bool)(await claim.ExecuteScalarAsync(cancellationToken))!)
                return [];
        await using var command = scope.Command("""
            SELECT seq, platform, event::text, attempts FROM chatops_state.inbox WHERE handled_at IS NULL AND platform = ANY($1) ORDER BY seq LIMIT $2
            """, (object)platforms.ToArray(), limit);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<InboxEvent>();
        while (await r.ReadAsync(cancellationToken))
            events.Add(new InboxEvent(r.GetInt64(0), r.GetString(1), ChatJson.ReadEvent(r.GetString(2)), r.GetInt32(3)));
        return events;
    }

    /// <summary>Marks the event handled (in the scope of its effects).</summary>
    public Task HandledAsync(StateScope scope, long seq, string outcome, CancellationToken cancellationToken) =>
        HandledAsync(scope, [(seq, outcome)], cancellationToken);

    /// <summary>Marks events handled, each with what became of it, in one statement (in the scope of their effects).</summary>
    public Task HandledAsync(StateScope scope, IReadOnlyList<(long Seq, string Outcome)> handled, CancellationToken cancellationToken) =>
        scope.ExecuteAsync("""
            UPDATE chatops_state.inbox SET handled_at = $2, outcome = h.outcome
            FROM unnest($1::bigint[], $3::text[]) AS h(seq, outcome) WHERE inbox.seq = h.seq
            """, cancellationToken, handled.Select(h => h.Seq).ToArray(), time.GetUtcNow(), handled.Select(h => h.Outcome).ToArray());

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
