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

        var keys = new List<ForeignKeyFact>();
        await ForEachAsync(connection, $"""
            SELECT n.nspname, c.relname, k.conname, rn.nspname, r.relname
            FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
            WHERE k.contype = 'f' AND {UserSchemas}
            """, r => keys.Add(new ForeignKeyFact(new(r.GetString(0), r.GetString(1)), r.GetString(2), new(r.GetString(3), r.GetString(4)))), cancellationToken);

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
            ColumnTypes = types,
            ForeignKeys = keys,
            DomainTables = domains.ToDictionary(d => d.Key, d => (IReadOnlyList<DbObjectName>)d.Value),
            ViewSources = views.ToDictionary(v => v.Key, v => (IReadOnlyList<DbObjectName>)v.Value),
        };
    }

    private static async Task ForEachAsync(NpgsqlConnection connection, string sql, Action<NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            row(reader);
    }
}
