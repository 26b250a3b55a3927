using System.Diagnostics;
using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>
/// Measures ACCESS EXCLUSIVE holds on <c>contacts</c> independently of the executor: polls <c>pg_locks</c>
/// every few milliseconds and records, per holding session, how long each hold was seen. Resolution is one
/// poll (about 3 ms); a hold shorter than that may be missed.
/// </summary>
public sealed class LockHoldObserver : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlCommand _command;
    private readonly Dictionary<int, long> _open = [];
    private readonly List<TimeSpan> _holds = [];
    private readonly Poller _poller;

    private LockHoldObserver(NpgsqlConnection connection, NpgsqlCommand command)
    {
        _connection = connection;
        _command = command;
        _poller = new Poller(PollAsync, TimeSpan.FromMilliseconds(2));
    }

    public static async Task<LockHoldObserver> StartAsync(string connectionString)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = "bench-lock-observer", Pooling = false }.ConnectionString;
        var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        var command = new NpgsqlCommand("""
            SELECT l.pid FROM pg_locks l
            WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.relation = 'public.contacts'::regclass
            """, connection);
        await command.PrepareAsync();
        return new LockHoldObserver(connection, command);
    }

    public IReadOnlyList<TimeSpan> Holds
    {
        get { lock (_holds) return _holds.ToList(); }
    }

    private async Task PollAsync()
    {
        var seen = new HashSet<int>();
        await using (var reader = await _command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) seen.Add(reader.GetInt32(0));
        var now = Stopwatch.GetTimestamp();
        foreach (var pid in seen.Where(p => !_open.ContainsKey(p))) _open[pid] = now;
        foreach (var pid in _open.Keys.Where(p => !seen.Contains(p)).ToList())
        {
            lock (_holds) _holds.Add(Stopwatch.GetElapsedTime(_open[pid], now));
            _open.Remove(pid);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _poller.DisposeAsync();
        await _command.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
