using Npgsql;

namespace ChatOps.Postgres.Workload;

/// <summary>
/// Another application's session that takes ACCESS EXCLUSIVE on a table inside a transaction and keeps it, with a few
/// application sessions queued behind it: what makes the application's lock waits grow until the lock-wait trigger fires
/// (the demo's <c>--breach</c>). The migration waits too, by design: the executor does not knock while someone is inside.
/// </summary>
public sealed class BlockingSession : IAsyncDisposable
{
    /// <summary>The holder's <c>application_name</c>: monitoring counts it as application, as it would a real worker.</summary>
    public const string HolderName = "billing-worker";

    private readonly NpgsqlConnection _holder;
    private readonly List<NpgsqlConnection> _applications;
    private readonly List<Task> _queued = [];
    private volatile bool _holding;   // set on the runner's thread (Hold), read when the story ends
    private bool _released;

    private BlockingSession(NpgsqlConnection holder, List<NpgsqlConnection> applications) => (_holder, _applications) = (holder, applications);

    /// <summary>
    /// Opens the holder's session and <paramref name="applications"/> application sessions, and takes no lock yet: connecting
    /// takes longer than locking, and the moment to lock may be short (<see cref="Hold"/>).
    /// </summary>
    public static async Task<BlockingSession> ConnectAsync(string connectionString, int applications, CancellationToken cancellationToken)
    {
        var holder = new NpgsqlConnection(Named(connectionString, HolderName));
        var opened = new List<NpgsqlConnection>();
        var session = new BlockingSession(holder, opened);
        try
        {
            await holder.OpenAsync(cancellationToken);
            for (var i = 0; i < applications; i++)
            {
                var app = new NpgsqlConnection(Named(connectionString, ApplicationWorkload.ApplicationName));
                opened.Add(app);
                await app.OpenAsync(cancellationToken);
            }
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Locks <paramref name="table"/> (waiting for the lock as long as it takes) and queues a read of it in each application session; returns
    /// once the lock is granted. Synchronous: its caller is a runbook event handler on the runner's thread, which must not let the run go on
    /// before the table is held.
    /// </summary>
    public void Hold(string table)
    {
        foreach (var sql in (string[])["BEGIN", $"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"])
        {
            using var command = new NpgsqlCommand(sql, _holder) { CommandTimeout = 0 };
            command.ExecuteNonQuery();
        }
        _holding = true;
        foreach (var app in _applications)
            _queued.Add(QueryAsync(new NpgsqlCommand($"SELECT count(*) FROM {table}", app) { CommandTimeout = 0 }));
    }

    /// <summary>Application sessions queued behind the lock (besides whatever else the application sends).</summary>
    public int Queued => _applications.Count;

    /// <summary>Commits (the lock goes) and lets the queued reads finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_released)
            return;
        _released = true;
        if (_holding)
        {
            await using var commit = new NpgsqlCommand("COMMIT", _holder);
            await commit.ExecuteNonQueryAsync(CancellationToken.None);
        }
        await _holder.DisposeAsync();
        await Task.WhenAll(_queued);
        foreach (var connection in _applications)
            await connection.DisposeAsync();
    }

    // Queued reads are not the demo's to fail: an error (the server going away at the end) is the end of the read.
    private static async Task QueryAsync(NpgsqlCommand read)
    {
        await using (read)
        {
            try
            {
                await read.ExecuteScalarAsync(CancellationToken.None);
            }
            catch (NpgsqlException)
            {
            }
        }
    }

    private static string Named(string connectionString, string application) =>
        new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = application, Pooling = false }.ConnectionString;
}
