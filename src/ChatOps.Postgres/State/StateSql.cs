using Npgsql;
using NpgsqlTypes;

namespace ChatOps.Postgres.State;

/// <summary>The state store's one way to build a command: positional parameters (<c>$1</c>…), typed NULLs where a value may be missing.</summary>
internal static class StateSql
{
    /// <summary>A command on <paramref name="connection"/>; a parameter given as an <see cref="NpgsqlParameter"/> (a typed NULL) goes in as it is.</summary>
    public static NpgsqlCommand Command(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
            command.Parameters.Add(p as NpgsqlParameter ?? new NpgsqlParameter { Value = p });
        return command;
    }

    public static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static object Text(string? value) => value is null ? Null(NpgsqlDbType.Text) : value;

    public static object Bytes(byte[]? value) => value is null ? Null(NpgsqlDbType.Bytea) : value;

    public static object Json(string? value) => new NpgsqlParameter { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb };

    public static object Timestamp(DateTimeOffset? value) => value is { } at ? at : Null(NpgsqlDbType.TimestampTz);

    public static object Integer(int? value) => value is { } n ? n : Null(NpgsqlDbType.Integer);

    private static NpgsqlParameter Null(NpgsqlDbType type) => new() { Value = DBNull.Value, NpgsqlDbType = type };
}
