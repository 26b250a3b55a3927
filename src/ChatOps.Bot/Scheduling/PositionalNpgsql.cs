using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Npgsql;

namespace ChatOps.Bot.Scheduling;

/// <summary>
/// Npgsql for Quartz in a process that turned Npgsql's SQL rewriting off (<c>ChatOps.Postgres</c> does, for the whole process, so
/// that <c>BEGIN ATOMIC</c> bodies reach the server intact): without rewriting Npgsql takes only positional <c>$1</c> parameters,
/// and every Quartz statement names its own (<c>:schedulerName</c>, Quartz's prefix for Npgsql). The commands this factory makes keep
/// Quartz's names to the last moment and, as each one runs, send the text with each <c>:name</c> (or <c>@name</c>; never a
/// <c>::cast</c>) that is one of its parameters replaced by that
/// parameter's position, and the parameters unnamed in the same order. Nothing else changes: same connections, same pool.
/// </summary>
internal sealed class PositionalNpgsqlFactory : DbProviderFactory
{
    public static readonly PositionalNpgsqlFactory Instance = new();

    public override DbConnection CreateConnection() => new PositionalConnection(new NpgsqlConnection());
    public override DbCommand CreateCommand() => new PositionalCommand();
    public override DbParameter CreateParameter() => new NpgsqlParameter();
    public override DbConnectionStringBuilder CreateConnectionStringBuilder() => new NpgsqlConnectionStringBuilder();

    /// <summary>The text with each <c>:name</c> or <c>@name</c> naming one of <paramref name="names"/> replaced by its position (<c>$1</c>…);
    /// quoted strings, quoted identifiers and comments are left alone.</summary>
    public static string Positional(string sql, IReadOnlyList<string> names)
    {
        var text = new StringBuilder(sql.Length);
        for (var i = 0; i < sql.Length; i++)
        {
            var c = sql[i];
            if (c is '\'' or '"')
            {
                var end = sql.IndexOf(c, i + 1);
                while (end >= 0 && end + 1 < sql.Length && sql[end + 1] == c)
                    end = sql.IndexOf(c, end + 2);   // '' and "" escape themselves
                end = end < 0 ? sql.Length - 1 : end;
                text.Append(sql, i, end - i + 1);
                i = end;
            }
            else if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                var end = sql.IndexOf('\n', i);
                end = end < 0 ? sql.Length - 1 : end;
                text.Append(sql, i, end - i + 1);
                i = end;
            }
            else if (c is '@' or ':' && (i == 0 || sql[i - 1] != ':') && i + 1 < sql.Length && (char.IsAsciiLetter(sql[i + 1]) || sql[i + 1] == '_'))
            {
                var end = i + 1;
                while (end < sql.Length && (char.IsAsciiLetterOrDigit(sql[end]) || sql[end] == '_'))
                    end++;
                var position = IndexOf(names, sql[(i + 1)..end]);
                text.Append(position < 0 ? sql[i..end] : $"${position + 1}");
                i = end - 1;
            }
            else
                text.Append(c);
        }
        return text.ToString();
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
            if (string.Equals(names[i].TrimStart('@', ':'), name, StringComparison.OrdinalIgnoreCase))
                return i;
        return -1;
    }
}

/// <summary>A connection whose commands are <see cref="PositionalCommand"/>s.</summary>
internal sealed class PositionalConnection(NpgsqlConnection inner) : DbConnection
{
    public NpgsqlConnection Inner => inner;

    [AllowNull]
    public override string ConnectionString
    {
        get => inner.ConnectionString;
        set => inner.ConnectionString = value;
    }

    public override string Database => inner.Database;
    public override string DataSource => inner.DataSource;
    public override string ServerVersion => inner.ServerVersion;
    public override ConnectionState State => inner.State;
    public override void ChangeDatabase(string databaseName) => inner.ChangeDatabase(databaseName);
    public override void Open() => inner.Open();
    public override Task OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);
    public override void Close() => inner.Close();
    public override Task CloseAsync() => inner.CloseAsync();
    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => inner.BeginTransaction(isolationLevel);

    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken) =>
        await inner.BeginTransactionAsync(isolationLevel, cancellationToken);

    protected override DbCommand CreateDbCommand() => new PositionalCommand { Connection = this };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>Holds Quartz's command as Quartz wrote it; each execution sends a positional copy.</summary>
internal sealed class PositionalCommand : DbCommand
{
    // Only for its parameter collection: Quartz adds and reads parameters by name here.
    private readonly NpgsqlCommand _parameters = new();
    private NpgsqlCommand? _running;

    [AllowNull]
    public override string CommandText { get; set; } = "";

    public override int CommandTimeout { get; set; } = 30;
    public override CommandType CommandType { get; set; } = CommandType.Text;
    public override bool DesignTimeVisible { get; set; }
    public override UpdateRowSource UpdatedRowSource { get; set; }
    protected override DbConnection? DbConnection { get; set; }
    protected override DbTransaction? DbTransaction { get; set; }
    protected override DbParameterCollection DbParameterCollection => _parameters.Parameters;
    protected override DbParameter CreateDbParameter() => new NpgsqlParameter();

    public override void Cancel() => _running?.Cancel();

    public override void Prepare()
    {
    }

    private NpgsqlCommand Positional()
    {
        var connection = DbConnection switch
        {
            PositionalConnection positional => positional.Inner,
            NpgsqlConnection npgsql => npgsql,
            null => throw new InvalidOperationException("the command has no connection"),
            var other => throw new InvalidOperationException($"a {other.GetType().Name} is no Npgsql connection"),
        };
        var names = _parameters.Parameters.Select(p => p.ParameterName).ToList();
        var command = new NpgsqlCommand(PositionalNpgsqlFactory.Positional(CommandText, names), connection, DbTransaction as NpgsqlTransaction)
        {
            CommandTimeout = CommandTimeout,
            CommandType = CommandType,
        };
        foreach (NpgsqlParameter parameter in _parameters.Parameters)
        {
            var copy = parameter.Clone();
            copy.ParameterName = "";
            command.Parameters.Add(copy);
        }
        _running = command;
        return command;
    }

    public override int ExecuteNonQuery()
    {
        using var command = Positional();
        return command.ExecuteNonQuery();
    }

    public override object? ExecuteScalar()
    {
        using var command = Positional();
        return command.ExecuteScalar();
    }

    protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => Positional().ExecuteReader(behavior);

    public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
    {
        await using var command = Positional();
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
    {
        await using var command = Positional();
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken) =>
        await Positional().ExecuteReaderAsync(behavior, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _running?.Dispose();
            _parameters.Dispose();
        }
        base.Dispose(disposing);
    }
}
