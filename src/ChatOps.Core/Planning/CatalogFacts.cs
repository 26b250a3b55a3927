namespace ChatOps.Core.Planning;

/// <summary>A foreign key as the catalog shows it: on <see cref="Table"/>, referencing <see cref="Referenced"/> (both schema-qualified).</summary>
public sealed record ForeignKeyFact(DbObjectName Table, string Constraint, DbObjectName Referenced);

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
}
