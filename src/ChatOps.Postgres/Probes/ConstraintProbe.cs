using ChatOps.Core.Planning;
using Npgsql;

namespace ChatOps.Postgres.Probes;

/// <summary>A <c>CHECK … NOT VALID</c> constraint that existing rows violate: every application UPDATE of those rows fails.</summary>
public sealed record ViolatedConstraint(string Table, string Constraint, string Check, long Rows, bool AtLeast);

/// <summary>
/// Finds the harm a <c>NOT VALID</c> check does while rows still violate it: PostgreSQL does not check existing rows,
/// but it checks every row written afterwards, so an UPDATE of an old row fails. Reads the catalog, then counts
/// violating rows (up to <see cref="CountLimit"/>) per such constraint on the given tables.
/// </summary>
public static class ConstraintProbe
{
    public const int CountLimit = 10_000;

    public static async Task<IReadOnlyList<ViolatedConstraint>> FindAsync(NpgsqlConnection connection, IEnumerable<DbObjectName> tables, CancellationToken cancellationToken)
    {
        var names = tables.Select(t => t.ToString()).Distinct().ToArray();
        var candidates = new List<(string Table, string Constraint, string Check)>();
        await using (var command = new NpgsqlCommand("""
            SELECT c.conrelid::regclass::text, c.conname, pg_get_expr(c.conbin, c.conrelid)
            FROM pg_constraint c
            WHERE c.contype = 'c' AND NOT c.convalidated
              AND c.conrelid = ANY (SELECT to_regclass(n) FROM unnest($1::text[]) n)
            ORDER BY 1, 2
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = names });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                candidates.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        var violated = new List<ViolatedConstraint>();
        foreach (var (table, constraint, check) in candidates)
        {
            // A CHECK fails only when its expression is false (NULL passes), which is exactly NOT (expr).
            await using var count = new NpgsqlCommand(
                $"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE NOT ({check}) LIMIT {CountLimit}) v", connection) { CommandTimeout = 0 };
            var rows = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            if (rows > 0)
                violated.Add(new ViolatedConstraint(table, constraint, check, rows, rows >= CountLimit));
        }
        return violated;
    }
}
