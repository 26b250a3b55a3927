using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>
/// Pooled sessions on the state database, for short transactions (the inbox, the outbox, deployments). Unlike the target's
/// sessions they may be pooled: nothing here sets a session setting or takes a session-level lock — the one lock that must
/// live as long as a session (a deployment's owner) opens its own unpooled session.
/// </summary>
public sealed class StateConnections : IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    public StateConnections(string connectionString)
    {
        ConnectionString = connectionString;
        var builder = ConnectionStrings.Parse(connectionString);
        builder.ApplicationName = "chatops:state";
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>The state database's connection string, as configured (never logged: <see cref="ConnectionStrings.Describe"/> it).</summary>
    public string ConnectionString { get; }

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _source.OpenConnectionAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            TargetFailure.Remember(ex, ConnectionStrings.Endpoint(ConnectionStrings.Parse(ConnectionString)));
            throw;
        }
    }

    /// <summary>Runs <paramref name="sql"/> in a session of its own (outside any scope).</summary>
    public async Task<T?> ScalarAsync<T>(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = StateSql.Command(connection, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken) is T value ? value : default;
    }

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await StateSql.ExecuteAsync(connection, sql, cancellationToken, parameters);
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
