namespace ChatOps.Postgres.Launching;

/// <summary>
/// A PostgreSQL server for the demo or the tests: a given server, a container or a temporary local
/// cluster. Disposing it stops and removes what the launcher started (a given server is left alone).
/// </summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    private readonly Func<ValueTask>? _stop;

    internal ThrowawayPostgres(string connectionString, string description, Func<ValueTask>? stop)
    {
        ConnectionString = connectionString;
        Description = description;
        _stop = stop;
    }

    /// <summary>Superuser connection string to the server's <c>postgres</c> database.</summary>
    public string ConnectionString { get; }

    /// <summary>Where the server came from, for people ("local cluster on 127.0.0.1:53411 (PostgreSQL 15)").</summary>
    public string Description { get; }

    public async ValueTask DisposeAsync()
    {
        if (_stop is not null)
            await _stop();
    }
}
