using Npgsql;

namespace ChatOps.Testing;

/// <summary>
/// A gate in a test's migration: one statement (<see cref="Statement"/>) that waits for an advisory lock the test holds, for as long as the
/// test needs the run to stay where it is — a blocker to arrive, a command to be handled — and passes at once when nobody holds it.
/// Deterministic where a <c>pg_sleep</c> is not: on a loaded machine the sleep may end before the test has done its part.
/// </summary>
public sealed class MigrationGate : IAsyncDisposable
{
    private readonly PostgresDatabase _target;
    private readonly long _key;
    private readonly NpgsqlConnection _holder;
    private bool _open;

    private MigrationGate(PostgresDatabase target, long key, NpgsqlConnection holder) => (_target, _key, _holder) = (target, key, holder);

    /// <summary>
    /// The gate's statement, on one line. It lifts the lock timeout for its own transaction first — the executor gives every statement a
    /// short one and retries on it, and the wait is meant to last — then waits for the lock (the select list is evaluated in order).
    /// </summary>
    public static string Statement(long key) => $"SELECT set_config('lock_timeout', '0', true), pg_advisory_xact_lock({key});";

    /// <summary>Closes the gate on <paramref name="target"/> (advisory locks are the database's): taken before the run starts, so that it cannot pass.</summary>
    public static async Task<MigrationGate> CloseAsync(PostgresDatabase target, long key)
    {
        var holder = await target.OpenAsync("test:gate");
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({key})", holder))
            await take.ExecuteNonQueryAsync();
        return new MigrationGate(target, key, holder);
    }

    /// <summary>Waits until a session whose <c>application_name</c> is like <paramref name="sessions"/> (<c>chatops:D-1-%</c>) waits at the gate.</summary>
    public Task ReachedAsync(string sessions, string what, TimeSpan? timeout = null, Func<Task<string>>? lastSeen = null) =>
        Poll.UntilAsync(() => _target.ScalarAsync<bool>("""
                SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                               WHERE l.locktype = 'advisory' AND NOT l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 AND a.application_name LIKE $2)
                """, _key, sessions),
            what, timeout ?? TimeSpan.FromMinutes(2), lastSeen);

    /// <summary>Opens the gate: the run goes on.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_open)
            return;
        _open = true;
        await using (var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({_key})", _holder))
            await release.ExecuteNonQueryAsync();
        await _holder.DisposeAsync();
    }
}
