using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>A <c>CHECK … NOT VALID</c> constraint that existing rows violate: every application UPDATE of those rows fails.</summary>
public sealed record ViolatedConstraint(string Table, string Constraint, string Check, long Rows, bool AtLeast);

/// <summary>
/// Finds the harm a <c>NOT VALID</c> check does while rows still violate it: PostgreSQL does not check existing rows,
/// but it checks every row written afterwards, so an UPDATE of an old row fails. Reads the catalog, then counts
/// violating rows (counting stops at <see cref="CountLimit"/>) per such constraint.
/// </summary>
public static class ConstraintProbe
{
    /// <summary>Violating rows are counted up to this many ("at least 10,000").</summary>
    public const int CountLimit = 10_000;

    private const string NotValidChecksSql = """
        SELECT c.oid, c.conrelid::regclass::text, c.conname, pg_get_expr(c.conbin, c.conrelid), c.connoinherit
        FROM pg_constraint c
        WHERE c.contype = 'c' AND NOT c.convalidated AND c.conrelid <> 0
        ORDER BY 2, 3
        """;

    /// <summary>The NOT VALID check constraints of the database now (taken before the migration, to judge only the ones it adds).</summary>
    public static async Task<IReadOnlySet<uint>> NotValidChecksAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var oids = new HashSet<uint>();
        await using var command = new NpgsqlCommand(NotValidChecksSql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            oids.Add(reader.GetFieldValue<uint>(0));
        return oids;
    }

    /// <summary>The NOT VALID check constraints that are not in <paramref name="existingBefore"/> and that existing rows violate, wherever
    /// they are (the migration may add them through dynamic SQL on any table).</summary>
    public static async Task<IReadOnlyList<ViolatedConstraint>> FindAsync(NpgsqlConnection connection, IReadOnlySet<uint> existingBefore, CancellationToken cancellationToken)
    {
        var candidates = new List<(string Table, string Constraint, string Check, bool NoInherit)>();
        await using (var command = new NpgsqlCommand(NotValidChecksSql, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                if (!existingBefore.Contains(reader.GetFieldValue<uint>(0)))
                    candidates.Add((reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetBoolean(4)));
        }

        var violated = new List<ViolatedConstraint>();
        foreach (var (table, constraint, check, noInherit) in candidates)
        {
            // A CHECK fails only when its expression is false (NULL passes), which is exactly NOT (expr).
            await using var count = new NpgsqlCommand(
                $"SELECT count(*) FROM (SELECT 1 FROM {(noInherit ? "ONLY " : "")}{table} WHERE NOT ({check}) LIMIT {CountLimit}) v", connection) { CommandTimeout = 0 };
            var rows = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            if (rows > 0)
                violated.Add(new ViolatedConstraint(table, constraint, check, rows, rows >= CountLimit));
        }
        return violated;
    }
}
