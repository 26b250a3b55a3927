using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>
/// One transaction on the state database: a handled event's state changes, the messages they cause (outbox) and the mark that
/// the event was handled (inbox) commit together or not at all — nothing is lost and nothing is done twice.
/// </summary>
public sealed class StateScope : IAsyncDisposable
{
    private readonly NpgsqlTransaction _transaction;

    private StateScope(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Connection = connection;
        _transaction = transaction;
    }

    /// <summary>The session the scope's statements run in (inside its transaction).</summary>
    public NpgsqlConnection Connection { get; }

    /// <summary>Opens a session on the state database and begins a transaction.</summary>
    public static async Task<StateScope> BeginAsync(StateConnections state, CancellationToken cancellationToken)
    {
        var connection = await state.OpenAsync(cancellationToken);
        try
        {
            return new StateScope(connection, await connection.BeginTransactionAsync(cancellationToken));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// What this transaction has read or written already, by whoever keeps it (the deployments it locked, a card's last version):
    /// a batch of events handled in one transaction reads each once. Gone with the scope — a rolled-back change never outlives it.
    /// </summary>
    internal Dictionary<object, object> Seen { get; } = [];

    /// <summary>Runs once the transaction committed (what must not happen for a change that was rolled back: wake the owner, cache a card).</summary>
    public event Action? Committed;

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _transaction.CommitAsync(cancellationToken);
        Committed?.Invoke();
    }

    /// <summary>Runs <paramref name="sql"/> with positional parameters (<c>$1</c>…); null is passed as a typed NULL by the caller.</summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public NpgsqlCommand Command(string sql, params object[] parameters)
    {
        var command = StateSql.Command(Connection, sql, parameters);
        command.Transaction = _transaction;
        return command;
    }

    /// <summary>Rolls back what was not committed and closes the session.</summary>
    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
