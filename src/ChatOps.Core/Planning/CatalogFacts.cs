namespace ChatOps.Core.Planning;

/// <summary>A foreign key as the catalog shows it: on <see cref="Table"/>, referencing <see cref="Referenced"/> (both schema-qualified).</summary>
public sealed record ForeignKeyFact(DbObjectName Table, string Constraint, DbObjectName Referenced)
{
    /// <summary>The referenced table's unique index the key checks against (each inserted row's check reads it).</summary>
    public DbObjectName? KeyIndex { get; init; }
}

/// <summary>How big a table is, as <c>plan --target</c> reads it without counting: the planner's estimate and, where it
/// could look, whether the table holds any row at all.</summary>
/// <param name="EstimatedRows"><c>pg_class.reltuples</c>; null when the table was never vacuumed or analysed.</param>
/// <param name="Empty">True when it holds no row (no page, or a cheap <c>EXISTS</c> found none); null when not checked.</param>
public sealed record TableSize(long? EstimatedRows, bool? Empty)
{
    /// <summary>"empty", "~1.2M rows", "~830 rows", or null when nothing is known.</summary>
    public string? Describe() => Empty == true ? "empty" : EstimatedRows is { } rows ? $"~{Rows(rows)} rows" : null;

    private static string Rows(long rows) => rows switch
    {
        >= 1_000_000_000 => $"{rows / 1e9:0.#}G",
        >= 1_000_000 => $"{rows / 1e6:0.#}M",
        >= 10_000 => $"{rows / 1e3:0}k",
        _ => rows.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// What the target's catalog says that the SQL alone cannot: column types (is a type change a binary-compatible
/// widening?), foreign keys (whose other table a statement also locks), the table of an index, the tables using a
/// domain, the tables a materialized view reads, and which relations exist. Read from the target by <c>plan --target</c>,
/// by the executor and by the server-truth test; the analyzer stays free of I/O and takes the safe side where a fact is
/// missing. Every name here is schema-qualified; <see cref="Visible"/> maps the bare names the search path resolves.
/// </summary>
public sealed record CatalogFacts
{
    /// <summary>Bare relation or domain name → the schema-qualified one the search path finds.</summary>
    public IReadOnlyDictionary<string, DbObjectName> Visible { get; init; } = new Dictionary<string, DbObjectName>();

    /// <summary><c>schema.table.column</c> → its type as <c>format_type</c> writes it, e.g. <c>character varying(100)</c>.</summary>
    public IReadOnlyDictionary<string, string> ColumnTypes { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<ForeignKeyFact> ForeignKeys { get; init; } = [];

    /// <summary>Index → its table.</summary>
    public IReadOnlyDictionary<DbObjectName, DbObjectName> IndexTables { get; init; } = new Dictionary<DbObjectName, DbObjectName>();

    /// <summary>Index → the columns of its table it uses (keys, expressions and predicate alike).</summary>
    public IReadOnlyDictionary<DbObjectName, IReadOnlyList<string>> IndexColumns { get; init; } = new Dictionary<DbObjectName, IReadOnlyList<string>>();

    /// <summary><c>schema.table.column</c> with a validated <c>CHECK (column IS NOT NULL)</c>: SET NOT NULL there skips its scan.</summary>
    public IReadOnlySet<string> ValidatedNotNullChecks { get; init; } = new HashSet<string>();

    /// <summary>Table → its size, for the tables a plan names (read by <c>plan --target</c> only).</summary>
    public IReadOnlyDictionary<DbObjectName, TableSize> TableSizes { get; init; } = new Dictionary<DbObjectName, TableSize>();

    /// <summary>Function or procedure (schema-qualified, in the user schemas) → the source of each of its overloads (SQL and plpgsql).</summary>
    public IReadOnlyDictionary<DbObjectName, IReadOnlyList<string>> FunctionBodies { get; init; } = new Dictionary<DbObjectName, IReadOnlyList<string>>();

    /// <summary>The schemas the target's default <c>search_path</c> finds, in order (<c>current_schemas(false)</c>).</summary>
    public IReadOnlyList<string> SearchPath { get; init; } = [];

    /// <summary>The role the facts were read as: what <c>"$user"</c> in a search path stands for.</summary>
    public string? User { get; init; }

    /// <summary>Domain → the tables with a column of it.</summary>
    public IReadOnlyDictionary<DbObjectName, IReadOnlyList<DbObjectName>> DomainTables { get; init; } = new Dictionary<DbObjectName, IReadOnlyList<DbObjectName>>();

    /// <summary>Materialized view → the tables its query reads.</summary>
    public IReadOnlyDictionary<DbObjectName, IReadOnlyList<DbObjectName>> ViewSources { get; init; } = new Dictionary<DbObjectName, IReadOnlyList<DbObjectName>>();

    /// <summary>Every relation (table, view, index, sequence …) that exists.</summary>
    public IReadOnlySet<DbObjectName> Relations { get; init; } = new HashSet<DbObjectName>();

    /// <summary>No catalog: every judgement takes the safe side.</summary>
    public static CatalogFacts None { get; } = new();

    public bool Known => Relations.Count > 0;

    /// <summary>The schema-qualified name <paramref name="name"/> stands for (itself when qualified or unknown).</summary>
    public DbObjectName Qualify(DbObjectName name) =>
        name.Schema is null && Visible.TryGetValue(name.Name, out var qualified) ? qualified : name;

    /// <summary>The name as the script would write it: bare when the search path finds it that way.</summary>
    public DbObjectName AsWritten(DbObjectName qualified) =>
        Visible.TryGetValue(qualified.Name, out var visible) && visible == qualified ? new DbObjectName(null, qualified.Name) : qualified;

    public bool Exists(DbObjectName relation) => Relations.Contains(Qualify(relation));

    public string? ColumnType(DbObjectName table, string column) =>
        ColumnTypes.GetValueOrDefault($"{Qualify(table)}.{column}");

    public DbObjectName? TableOfIndex(DbObjectName index) => IndexTables.TryGetValue(Qualify(index), out var table) ? table : null;

    public IEnumerable<ForeignKeyFact> KeysOn(DbObjectName table) => ForeignKeys.Where(f => f.Table == Qualify(table));

    /// <summary>The indexes of <paramref name="table"/>, as the script would write them.</summary>
    public IReadOnlyList<DbObjectName> IndexesOf(DbObjectName table)
    {
        var qualified = Qualify(table);
        return IndexTables.Where(i => i.Value == qualified).Select(i => AsWritten(i.Key)).OrderBy(i => i.ToString(), StringComparer.Ordinal).ToList();
    }

    /// <summary>The indexes of <paramref name="table"/> that use <paramref name="column"/>.</summary>
    public IReadOnlyList<DbObjectName> IndexesOn(DbObjectName table, string column) =>
        IndexesOf(table).Where(i => IndexColumns.GetValueOrDefault(Qualify(i))?.Contains(column) == true).ToList();

    /// <summary>The bodies of the function a call names: schema-qualified, or the first schema of the search path that has one.</summary>
    public IReadOnlyList<string> BodiesOf(DbObjectName function)
    {
        if (function.Schema is not null)
            return FunctionBodies.GetValueOrDefault(function) ?? [];
        return SearchPath.Select(schema => FunctionBodies.GetValueOrDefault(new DbObjectName(schema, function.Name))).FirstOrDefault(b => b is not null) ?? [];
    }

    public TableSize? SizeOf(DbObjectName table) => TableSizes.GetValueOrDefault(Qualify(table));

    public bool HasValidatedNotNullCheck(DbObjectName table, string column) => ValidatedNotNullChecks.Contains($"{Qualify(table)}.{column}");

    /// <summary>
    /// The same facts seen through another <c>search_path</c> (what a script's <c>SET search_path</c> sets): bare names
    /// resolve to the first of <paramref name="schemas"/> holding a relation (or domain) of that name, as PostgreSQL
    /// resolves them. <c>"$user"</c> stands for <see cref="User"/>; schemas that do not exist are skipped.
    /// </summary>
    public CatalogFacts WithSearchPath(IReadOnlyList<string> schemas)
    {
        var names = Relations.Concat(DomainTables.Keys).Distinct().ToList();
        var visible = new Dictionary<string, DbObjectName>();
        var path = schemas.Select(s => s == "$user" ? User : s).OfType<string>().ToList();
        foreach (var schema in path)
            foreach (var name in names.Where(n => n.Schema == schema))
                visible.TryAdd(name.Name, name);
        return this with { Visible = visible, SearchPath = path };
    }
}
