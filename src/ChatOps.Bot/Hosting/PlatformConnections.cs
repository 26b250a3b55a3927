using ChatOps.Postgres;
using ChatOps.Postgres.State;
using Npgsql;

namespace ChatOps.Bot.Hosting;

/// <summary>
/// Holds the platforms' long-lived connections on exactly one replica: the one holding an advisory lock on the state database in a
/// session of its own. When that replica goes (or loses its session), the lock is free and another one takes the connections over.
/// </summary>
public sealed class PlatformConnections(StateConnections state, IReadOnlyDictionary<string, PlatformConnection> connections, TimeProvider time,
    ILogger<PlatformConnections> logger)
{
    // 'CHPL': the platform connections' holder lock.
    private const int HolderLock = 0x4348504C;
    private volatile bool _held;

    /// <summary>How often a replica without the connections tries to take them, and the holder checks its session is alive.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>True while this replica holds (and runs) the connections.</summary>
    public bool Held => _held;

    public async Task RunAsync(CancellationToken stopping)
    {
        if (connections.Count == 0)
            return;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var session = await TargetSession.OpenAsync(state.ConnectionString, "chatops:platform-connections", stopping);
                if (await ScalarAsync<bool>(session, $"SELECT pg_try_advisory_lock({HolderLock}, 1)", stopping))
                    await HoldAsync(session, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;   // the replica stops: the lock goes with the session, and another replica takes the connections
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                logger.LogWarning(ex, "the platform connections' lock could not be held; trying again");
            }
            try
            {
                await Task.Delay(CheckInterval, time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task HoldAsync(NpgsqlConnection session, CancellationToken stopping)
    {
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _held = true;
        logger.LogInformation("this replica holds {Connections}", string.Join(" and ", connections.Values.Select(c => c.Name)));
        var runs = connections.Values.Select(c => Task.Run(() => c.RunAsync(lost.Token), CancellationToken.None)).ToList();
        try
        {
            // The lock lives as long as the session: a session that died means another replica may hold the lock now.
            while (!lost.IsCancellationRequested)
            {
                await Task.Delay(CheckInterval, time, stopping);
                await ScalarAsync<int>(session, "SELECT 1", stopping);
            }
        }
        finally
        {
            _held = false;
            await lost.CancelAsync();
            await Task.WhenAll(runs).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Why the connections are not up: nobody holds them, or this replica holds them and one is down. Empty when all is well.</summary>
    public async Task<IReadOnlyList<string>> ProblemsAsync(CancellationToken cancellationToken)
    {
        if (connections.Count == 0)
            return [];
        if (_held)
            return connections.Values.Select(c => c.Problem()).OfType<string>().ToList();
        var heldElsewhere = await state.ScalarAsync<bool>(
            $"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = {HolderLock} AND objid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            cancellationToken);
        return heldElsewhere ? [] : [$"no replica holds {string.Join(" and ", connections.Values.Select(c => c.Name))} yet"];
    }

    /// <summary>Why a connection this replica holds is up but impaired (a reconnect in progress): ready all the same. Empty when all is well.</summary>
    public IReadOnlyList<string> Degraded() =>
        _held ? connections.Values.Select(c => c.Degraded?.Invoke()).OfType<string>().ToList() : [];

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection session, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, session);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
