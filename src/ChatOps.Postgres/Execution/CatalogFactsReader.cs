using ChatOps.Core.Planning;
using Npgsql;

namespace ChatOps.Postgres.Execution;

/// <summary>Reads <see cref="CatalogFacts"/> from the target: a handful of catalog queries over the user schemas, no table data.</summary>
public static class CatalogFactsReader
{
    private const string UserSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'";

    public static async Task<CatalogFacts> ReadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var visible = new Dictionary<string, DbObjectName>();
        var relations = new HashSet<DbObjectName>();
        var indexes = new Dictionary<DbObjectName, DbObjectName>();
        await ForEachAsync(connection, $"""
            SELECT n.nspname, c.relname, pg_table_is_visible(c.oid), ti.nspname, t.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_index i ON i.indexrelid = c.oid
            LEFT JOIN pg_class t ON t.oid = i.indrelid LEFT JOIN pg_namespace ti ON ti.oid = t.relnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var name = new DbObjectName(r.GetString(0), r.GetString(1));
            relations.Add(name);
            if (r.GetBoolean(2)) visible[name.Name] = name;
            if (!r.IsDBNull(3)) indexes[name] = new DbObjectName(r.GetString(3), r.GetString(4));
        }, cancellationToken);

        var types = new Dictionary<string, string>();
        await ForEachAsync(connection, $"""
            SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND {UserSchemas}
            """, r => types[$"{new DbObjectName(r.GetString(0), r.GetString(1))}.{r.GetString(2)}"] = r.GetString(3), cancellationToken);

        // The columns each index uses: keys, expressions and predicate alike (pg_depend records every column they name).
        var indexColumns = new Dictionary<DbObjectName, List<string>>();
        await ForEachAsync(connection, $"""
            SELECT DISTINCT n.nspname, c.relname, a.attname
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.refclassid = 'pg_class'::regclass
                             AND d.refobjid = i.indrelid AND d.refobjsubid > 0
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = d.refobjsubid
            WHERE {UserSchemas}
            """, r =>
        {
            var index = new DbObjectName(r.GetString(0), r.GetString(1));
            (indexColumns.TryGetValue(index, out var list) ? list : indexColumns[index] = []).Add(r.GetString(2));
        }, cancellationToken);

        var keys = new List<ForeignKeyFact>();
        await ForEachAsync(connection, $"""
            SELECT n.nspname, c.relname, k.conname, rn.nspname, r.relname, xn.nspname, x.relname
            FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
            LEFT JOIN pg_class x ON x.oid = k.conindid LEFT JOIN pg_namespace xn ON xn.oid = x.relnamespace
            WHERE k.contype = 'f' AND {UserSchemas}
            """, r => keys.Add(new ForeignKeyFact(new(r.GetString(0), r.GetString(1)), r.GetString(2), new(r.GetString(3), r.GetString(4)))
        {
            KeyIndex = r.IsDBNull(5) ? null : new DbObjectName(r.GetString(5), r.GetString(6)),
        }), cancellationToken);

        var notNullChecks = new HashSet<string>();
        await ForEachAsync(connection, $"""
            SELECT n.nspname, c.relname, a.attname
            FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
            WHERE k.contype = 'c' AND k.convalidated AND cardinality(k.conkey) = 1
              AND pg_get_constraintdef(k.oid) = format('CHECK ((%s IS NOT NULL))', quote_ident(a.attname)) AND {UserSchemas}
            """, r => notNullChecks.Add($"{new DbObjectName(r.GetString(0), r.GetString(1))}.{r.GetString(2)}"), cancellationToken);

        // What user functions run, so a SELECT calling one fails safe on the relations its body names.
        var functions = new Dictionary<DbObjectName, List<string>>();
        await ForEachAsync(connection, $"""
            SELECT n.nspname, p.proname, p.prosrc
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE l.lanname IN ('sql', 'plpgsql') AND {UserSchemas}
            """, r =>
        {
            var function = new DbObjectName(r.GetString(0), r.GetString(1));
            (functions.TryGetValue(function, out var list) ? list : functions[function] = []).Add(r.GetString(2));
        }, cancellationToken);

        var searchPath = new List<string>();
        string? user = null;
        await ForEachAsync(connection, "SELECT current_schemas(false)::text[], current_user::text", r =>
        {
            searchPath.AddRange(r.GetFieldValue<string[]>(0));
            user = r.GetString(1);
        }, cancellationToken);

        var domains = new Dictionary<DbObjectName, List<DbObjectName>>();
        await ForEachAsync(connection, $"""
            SELECT DISTINCT tn.nspname, t.typname, n.nspname, c.relname, pg_type_is_visible(t.oid)
            FROM pg_type t JOIN pg_namespace tn ON tn.oid = t.typnamespace
            JOIN pg_attribute a ON a.atttypid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p') JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.typtype = 'd' AND {UserSchemas}
            """, r =>
        {
            var domain = new DbObjectName(r.GetString(0), r.GetString(1));
            if (r.GetBoolean(4)) visible.TryAdd(domain.Name, domain);
            (domains.TryGetValue(domain, out var list) ? list : domains[domain] = []).Add(new(r.GetString(2), r.GetString(3)));
        }, cancellationToken);

        var views = new Dictionary<DbObjectName, List<DbObjectName>>();
        await ForEachAsync(connection, $"""
            SELECT DISTINCT n.nspname, v.relname, sn.nspname, s.relname
            FROM pg_class v JOIN pg_namespace n ON n.oid = v.relnamespace
            JOIN pg_rewrite w ON w.ev_class = v.oid
            JOIN pg_depend d ON d.objid = w.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
            JOIN pg_class s ON s.oid = d.refobjid AND s.oid <> v.oid AND s.relkind IN ('r', 'p', 'm')
            JOIN pg_namespace sn ON sn.oid = s.relnamespace
            WHERE v.relkind IN ('m', 'v') AND {UserSchemas}
            """, r =>
        {
            var view = new DbObjectName(r.GetString(0), r.GetString(1));
            (views.TryGetValue(view, out var list) ? list : views[view] = []).Add(new(r.GetString(2), r.GetString(3)));
        }, cancellationToken);

        return new CatalogFacts
        {
            Visible = visible,
            Relations = relations,
            IndexTables = indexes,
            IndexColumns = indexColumns.ToDictionary(i => i.Key, i => (IReadOnlyList<string>)i.Value),
            ValidatedNotNullChecks = notNullChecks,
            FunctionBodies = functions.ToDictionary(f => f.Key, f => (IReadOnlyList<string>)f.Value),
            SearchPath = searchPath,
            User = user,
            ColumnTypes = types,
            ForeignKeys = keys,
            DomainTables = domains.ToDictionary(d => d.Key, d => (IReadOnlyList<DbObjectName>)d.Value),
            ViewSources = views.ToDictionary(v => v.Key, v => (IReadOnlyList<DbObjectName>)v.Value),
        };
    }

    /// <summary>
    /// Adds the sizes of <paramref name="tables"/> (schema-qualified): the planner's row estimate from <c>pg_class.reltuples</c>
    /// (never a count), and whether the table holds a row — no page at all, or one <c>EXISTS (SELECT 1 FROM t)</c> that stops
    /// at the first live row. That look takes ACCESS SHARE; behind a lock it waits at most briefly and then leaves emptiness
    /// unknown, so a plan never queues behind the application's DDL for long.
    /// </summary>
    public static async Task<CatalogFacts> WithTableSizesAsync(NpgsqlConnection connection, CatalogFacts facts, IEnumerable<DbObjectName> tables,
        CancellationToken cancellationToken)
    {
        var sizes = new Dictionary<DbObjectName, TableSize>();
        foreach (var table in tables.Distinct())
        {
            // relpages = 0 would say "empty" only as of the last VACUUM or ANALYZE: the EXISTS below asks the table itself.
            await using var estimate = new NpgsqlCommand("""
                SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'm')
                """, connection) { Parameters = { new() { Value = table.Schema ?? "public" }, new() { Value = table.Name } } };
            if (await estimate.ExecuteScalarAsync(cancellationToken) is not long reltuples)
                continue;
            long? rows = reltuples >= 0 ? reltuples : null;   // -1: never vacuumed or analysed
            sizes[table] = new TableSize(rows, await IsEmptyAsync(connection, table, cancellationToken));
        }
        return facts with { TableSizes = sizes };
    }

    private static async Task<bool?> IsEmptyAsync(NpgsqlConnection connection, DbObjectName table, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken);
        try
        {
            // One command each: the target session prepares its commands, and a prepared statement holds one.
            foreach (var setting in new[] { "SET TRANSACTION READ ONLY", "SET LOCAL lock_timeout = '200ms'", "SET LOCAL statement_timeout = '5s'" })
            {
                await using var limit = new NpgsqlCommand(setting, connection, transaction);
                await limit.ExecuteNonQueryAsync(cancellationToken);
            }
            await using var exists = new NpgsqlCommand($"SELECT NOT EXISTS (SELECT 1 FROM {table})", connection, transaction);
            return (bool)(await exists.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.QueryCanceled
                                          or PostgresErrorCodes.InsufficientPrivilege)
        {
            return null;   // busy or not ours to read: emptiness unknown, the findings stay as they are
        }
        finally
        {
            await transaction.RollbackAsync(CancellationToken.None);
        }
    }

    private static async Task ForEachAsync(NpgsqlConnection connection, string sql, Action<NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            row(reader);
    }
}
