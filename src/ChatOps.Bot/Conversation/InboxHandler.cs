using ChatOps.Postgres.State;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// Handles the inbox in arrival order: each event in one transaction with the state changes and messages it causes and the mark
/// that it was handled — so a crash before the commit leaves it to be handled again, and after it, never twice. One replica at a
/// time holds the inbox (the others wait their turn).
/// </summary>
public sealed class InboxHandler(Inbox inbox, DeploymentStore store, IReadOnlyDictionary<string, Conductor> conductors, ILogger<InboxHandler> logger)
{
    private readonly SemaphoreSlim _wake = new(0);
    private readonly string[] _platforms = [.. conductors.Keys];
    private long _handled;

    /// <summary>How many times an event may fail before it is set aside (answered with why, and marked handled).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>How often it looks when nothing woke it (another replica's events).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Events handled by this replica since start-up.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    public void Wake() => _wake.Release();

    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            bool more;
            try
            {
                more = await HandleNextAsync(stopping);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                logger.LogError(ex, "the inbox could not be read; trying again");
                more = false;
            }
            if (more)
                continue;
            try
            {
                await _wake.WaitAsync(PollInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>How many waiting events one transaction handles together: a burst of reactions on one card reads and locks it once,
    /// renders it once and commits once (each event still in arrival order, each marked with its own outcome).</summary>
    public int BatchSize { get; init; } = 100;

    // After a batch failed: the events up to this one are handled one at a time, so the one that fails fails alone.
    private long _oneAtATimeThrough = -1;

    /// <summary>Handles the oldest waiting events; false when there was none (or another replica holds the inbox).</summary>
    public async Task<bool> HandleNextAsync(CancellationToken cancellationToken)
    {
        (InboxEvent Event, Exception Why)? failed = null;
        await using (var scope = await store.BeginAsync(cancellationToken))
        {
            var batch = await inbox.NextAsync(scope, _platforms, _oneAtATimeThrough >= 0 ? 1 : BatchSize, cancellationToken);
            if (batch.Count == 0)
                return false;
            if (batch[^1].Seq > _oneAtATimeThrough)
                _oneAtATimeThrough = -1;
            var handled = new List<(long Seq, string Outcome)>(batch.Count);
            var setAside = 0;
            foreach (var e in batch)
            {
                var conductor = conductors[e.Platform];
                if (e.Attempts >= MaxAttempts)
                {
                    await conductor.FailedAsync(scope, e.Event, new InvalidOperationException($"it failed {e.Attempts} times"), cancellationToken);
                    handled.Add((e.Seq, "set aside after repeated failures"));
                    setAside++;
                    continue;
                }
                try
                {
                    handled.Add((e.Seq, await conductor.HandleAsync(scope, e.Event, cancellationToken)));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    failed = (e, ex);   // everything the batch changed is rolled back with the scope
                    break;
                }
            }
            if (failed is null)
            {
                await inbox.HandledAsync(scope, handled, cancellationToken);
                await scope.CommitAsync(cancellationToken);
                Interlocked.Add(ref _handled, handled.Count - setAside);
                return true;
            }
            if (batch.Count > 1)
            {
                // Not counted against anyone: the events are taken again one by one, and only the one that fails then counts a failure.
                logger.LogInformation("handling a batch of {Count} events failed at {Event}; handling them one at a time", batch.Count, failed.Value.Event.Event.EventId);
                _oneAtATimeThrough = batch[^1].Seq;
                return true;
            }
        }
        var (next, failure) = failed.Value;
        // One event that fails (the target busy, a bug) must not stop the others: counted, and said to whoever did it once it is set aside.
        logger.LogError(failure, "handling {Event} ({Kind}) failed", next.Event.EventId, next.Event.GetType().Name);
        await inbox.FailedAsync(next.Seq, failure.Message, cancellationToken);
        // A target or state database that refuses is set aside at once (trying again changes nothing); a transient failure (a deadlock,
        // a dropped connection) is tried again, like any other, up to MaxAttempts.
        if (next.Attempts + 1 >= MaxAttempts || failure is Npgsql.NpgsqlException { IsTransient: false })
        {
            await using var scope = await store.BeginAsync(cancellationToken);
            await conductors[next.Platform].FailedAsync(scope, next.Event, failure, cancellationToken);
            await inbox.HandledAsync(scope, next.Seq, $"failed: {failure.Message}", cancellationToken);
            await scope.CommitAsync(cancellationToken);
        }
        return true;
    }
}
