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
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<TimeSpan> _holds = [];

    private LockHoldObserver(NpgsqlConnection connection)
    {
        _connection = connection;
        _loop = Task.Run(LoopAsync);
    }

    public static async Task<LockHoldObserver> StartAsync(string connectionString)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = "bench-lock-observer", Pooling = false }.ConnectionString;
        var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        return new LockHoldObserver(connection);
    }

    public IReadOnlyList<TimeSpan> Holds
    {
        get { lock (_holds) return _holds.ToList(); }
    }

    private async Task LoopAsync()
    {
        var open = new Dictionary<int, long>();
        await using var command = new NpgsqlCommand("""
            SELECT l.pid FROM pg_locks l
            WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.relation = 'public.contacts'::regclass
            """, _connection);
        await command.PrepareAsync();
        while (!_stop.IsCancellationRequested)
        {
            var seen = new HashSet<int>();
            await using (var reader = await command.ExecuteReaderAsync())
                while (await reader.ReadAsync()) seen.Add(reader.GetInt32(0));
            var now = Stopwatch.GetTimestamp();
            foreach (var pid in seen.Where(p => !open.ContainsKey(p))) open[pid] = now;
            foreach (var pid in open.Keys.Where(p => !seen.Contains(p)).ToList())
            {
                lock (_holds) _holds.Add(Stopwatch.GetElapsedTime(open[pid], now));
                open.Remove(pid);
            }
            try { await Task.Delay(2, _stop.Token); } catch (OperationCanceledException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        await _connection.DisposeAsync();
    }
}
