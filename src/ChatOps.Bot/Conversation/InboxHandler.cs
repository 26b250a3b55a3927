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

    /// <summary>Handles the oldest waiting event; false when there was none (or another replica holds the inbox).</summary>
    public async Task<bool> HandleNextAsync(CancellationToken cancellationToken)
    {
        InboxEvent? next;
        Exception failure;
        await using (var scope = await store.BeginAsync(cancellationToken))
        {
            next = await inbox.NextAsync(scope, _platforms, cancellationToken);
            if (next is null)
                return false;
            var conductor = conductors[next.Platform];
            if (next.Attempts >= MaxAttempts)
            {
                await conductor.FailedAsync(scope, next.Event, new InvalidOperationException($"it failed {next.Attempts} times"), cancellationToken);
                await inbox.HandledAsync(scope, next.Seq, "set aside after repeated failures", cancellationToken);
                await scope.CommitAsync(cancellationToken);
                return true;
            }
            try
            {
                var outcome = await conductor.HandleAsync(scope, next.Event, cancellationToken);
                await inbox.HandledAsync(scope, next.Seq, outcome, cancellationToken);
                await scope.CommitAsync(cancellationToken);
                Interlocked.Increment(ref _handled);
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failure = ex;   // everything it changed is rolled back with the scope
            }
        }
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
