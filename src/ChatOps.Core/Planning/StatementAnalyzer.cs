using ChatOps.Core.Scripts;

namespace ChatOps.Core.Planning;

/// <summary>
/// Reads what a statement will lock, rewrite and leave behind from its SQL alone — the executor's
/// "who is in the way" and the plan's warnings both come from here. It fails safe: a statement whose lock
/// it does not know is taken to hold ACCESS EXCLUSIVE on every relation it names (the executor resolves the
/// names on the server; those that are not relations drop out), and inside a transaction block every
/// statement reports the strongest locks held so far in the block, since they are held until its end.
/// </summary>
public sealed class StatementAnalyzer(CatalogFacts? facts = null, bool strict = false)
{
    // The target's catalog as the target's default search_path sees it, and as the script's own SET search_path does.
    private readonly CatalogFacts _default = facts ?? CatalogFacts.None;
    private CatalogFacts _facts = facts ?? CatalogFacts.None;
    private IReadOnlyList<string>? _sessionPath;
    private IReadOnlyList<string>? _localPath;
    // Style rules (prefer text, bigint, timestamptz, identity …): notes, only when asked for.
    private readonly bool _strict = strict;

    // Functions whose value changes per row: a default calling one forces a table rewrite.
    private static readonly HashSet<string> VolatileFunctions =
        ["CLOCK_TIMESTAMP", "RANDOM", "GEN_RANDOM_UUID", "UUID_GENERATE_V1", "UUID_GENERATE_V4", "TIMEOFDAY", "NEXTVAL", "TXID_CURRENT", "UUIDV7", "UUIDV4"];

    // Tables with a validated CHECK (… IS NOT NULL) earlier in the script: SET NOT NULL there skips its scan.
    private readonly HashSet<DbObjectName> _validated = [];
    // Tables created earlier in the script: locking them blocks nobody.
    private readonly HashSet<DbObjectName> _created = [];

    /// <summary>Analyses a whole script in order (earlier statements inform later warnings; a transaction block's locks accumulate).</summary>
    /// <param name="facts">What the target's catalog says (column types, foreign keys, indexes' tables …); without it the safe side is taken.</param>
    /// <param name="strict">Also the style rules, as notes.</param>
    public static IReadOnlyList<StatementAnalysis> AnalyzeScript(SqlScript script, CatalogFacts? facts = null, bool strict = false)
    {
        var analyzer = new StatementAnalyzer(facts, strict);
        var analyses = new List<StatementAnalysis>();
        // The locks a transaction block holds so far, with the line that took each at its strongest.
        var held = new List<(TableLock Lock, int Line)>();
        int? block = null;
        foreach (var statement in script.Statements)
        {
            var analysis = analyzer.Analyze(statement);
            analyzer.FollowSearchPath(statement);
            if (statement.Block is not { } current)
            {
                held.Clear();
                block = null;
                analyses.Add(analysis);
                continue;
            }
            if (current != block)
            {
                held.Clear();
                block = current;
            }
            analyses.Add(HeldInBlock(analysis, held));
        }
        return analyses;
    }

    /// <summary>A statement inside a transaction block: it holds what the block took before it, and work it does on a
    /// table the block holds in ACCESS EXCLUSIVE keeps the application out for all that time.</summary>
    private static StatementAnalysis HeldInBlock(StatementAnalysis analysis, List<(TableLock Lock, int Line)> held)
    {
        var warnings = analysis.Warnings.ToList();
        var dml = analysis.Kind is "UPDATE" or "DELETE" or "INSERT" || analysis.Kind.StartsWith("WITH ", StringComparison.Ordinal);
        var works = dml || analysis.Rewrites || analysis.ScansUnderLock;
        // An UPDATE or DELETE without WHERE reads every row: under a lock the block holds that stops writers, that is a scan under lock.
        var scans = analysis.ScansUnderLock || dml && !analysis.Kind.EndsWith("INSERT", StringComparison.Ordinal)
            && !analysis.Statement.Tokens.Any(x => x.Is("WHERE"))
            && analysis.OwnLocks.Any(own => held.Any(h => h.Lock.Table == own.Table && h.Lock.Mode.BlocksWrites()));
        foreach (var table in analysis.Tables)
        {
            if (works && held.FirstOrDefault(h => h.Lock.Table == table && h.Lock.Mode == LockMode.AccessExclusive) is { Lock: not null } earlier)
                warnings.Add(new PlanWarning(WarningLevel.Warning, "lock-held-in-block",
                    $"{analysis.Kind} on {table} runs while this transaction block holds ACCESS EXCLUSIVE on it (taken at line {earlier.Line}): " +
                    "the application is blocked until COMMIT. Commit the DDL first, then do this work in batches outside the block."));
        }
        foreach (var l in analysis.Locks)
        {
            var at = held.FindIndex(h => h.Lock.Table == l.Table);
            if (at < 0) held.Add((l, analysis.Statement.Line));
            else if (held[at].Lock.Mode < l.Mode) held[at] = (l, analysis.Statement.Line);
        }
        return analysis with { OwnLocks = analysis.Locks, Locks = held.Select(h => h.Lock).ToList(), Warnings = warnings, ScansUnderLock = scans };
    }

    /// <summary>
    /// Names in later statements resolve with the search path the script sets: <c>SET [SESSION] search_path</c> and
    /// <c>set_config('search_path', …, false)</c> for the rest of the script, <c>SET LOCAL</c> and
    /// <c>set_config(…, true)</c> until the end of the transaction block, <c>RESET</c> / <c>DEFAULT</c> back to the target's.
    /// </summary>
    private void FollowSearchPath(SqlStatement statement)
    {
        var t = statement.Tokens;
        if (statement.Transaction is TransactionControl.Commit or TransactionControl.Rollback)
            _localPath = null;
        else if (SearchPathSet(t) is { } set)
        {
            // SET LOCAL outside a transaction block has no effect (PostgreSQL warns and forgets it).
            if (set.Local && statement.Block is not null) _localPath = set.Schemas;
            else if (!set.Local) { _sessionPath = set.Schemas; _localPath = null; }
        }
        var path = _localPath ?? _sessionPath;
        _facts = path is null || !_default.Known ? _default : _default.WithSearchPath(path);
    }

    // (schemas or null for the default, local?) when the statement sets search_path; null when it does not.
    private static (IReadOnlyList<string>? Schemas, bool Local)? SearchPathSet(IReadOnlyList<SqlToken> t)
    {
        if (t.Count >= 2 && t[0].Is("RESET") && (t[1].Is("SEARCH_PATH") || t[1].Is("ALL")))
            return (null, false);
        if (t.Count >= 2 && t[0].Is("SET"))
        {
            var local = t[1].Is("LOCAL");
            var at = Skip(t, 1, "LOCAL");
            at = Skip(t, at, "SESSION");
            if (at >= t.Count || !t[at].Is("SEARCH_PATH"))
                return null;
            at++;
            if (at < t.Count && (t[at].Value == "=" || t[at].Is("TO"))) at++;
            if (at < t.Count && t[at].Is("DEFAULT"))
                return (null, local);
            var schemas = t.Skip(at).Where(x => x.Value != ",").Select(x => x.Kind switch
            {
                SqlTokenKind.Word => x.Value.ToLowerInvariant(),
                _ => x.Value,   // a quoted identifier or a string is the schema's name as written
            }).ToList();
            return (schemas, local);
        }
        // SELECT set_config('search_path', 'app, public', is_local)
        var call = -1;
        for (var i = 0; i + 4 < t.Count; i++)
            if (t[i].Is("SET_CONFIG") && t[i + 1].Value == "(" && t[i + 2].Kind == SqlTokenKind.String
                && t[i + 2].Value.Equals("search_path", StringComparison.OrdinalIgnoreCase) && t[i + 3].Value == "," && t[i + 4].Kind == SqlTokenKind.String)
                call = i;
        if (call < 0)
            return null;
        var value = t[call + 4].Value;
        var isLocal = call + 6 < t.Count && t[call + 6].Is("TRUE");
        return (value.Split(',').Select(p => p.Trim()).Where(p => p.Length > 0)
            .Select(p => p.StartsWith('"') && p.EndsWith('"') && p.Length > 1 ? p[1..^1].Replace("\"\"", "\"") : p.ToLowerInvariant()).ToList(), isLocal);
    }

    public StatementAnalysis Analyze(SqlStatement statement)
    {
        var a = new Builder(statement);
        var t = statement.Tokens;

        if (statement.Transaction != TransactionControl.None)
            a.Kind = statement.Transaction.ToString().ToUpperInvariant();
        else if (statement.StartsWith("ALTER", "TABLE"))
            AlterTable(t, 2, a);
        else if (statement.StartsWith("CREATE", "INDEX") || statement.StartsWith("CREATE", "UNIQUE", "INDEX"))
            CreateIndex(t, a);
        else if (statement.StartsWith("DROP", "INDEX"))
            DropIndex(t, a);
        else if (statement.StartsWith("REINDEX"))
            Reindex(statement, a);
        else if (statement.StartsWith("CLUSTER"))
            Cluster(t, a);
        else if (statement.StartsWith("COMMENT", "ON"))
            Comment(t, a);
        else if (statement.StartsWith("DROP", "TRIGGER"))
            OnTable(t, "DROP TRIGGER", LockMode.AccessExclusive, a);
        else if (statement.StartsWith("CREATE", "VIEW") || statement.StartsWith("CREATE", "OR", "REPLACE", "VIEW")
                 || statement.StartsWith("CREATE", "MATERIALIZED", "VIEW") || statement.StartsWith("CREATE", "TEMP", "VIEW")
                 || statement.StartsWith("CREATE", "TEMPORARY", "VIEW") || statement.StartsWith("CREATE", "OR", "REPLACE", "TEMP", "VIEW"))
            CreateView(statement, a);
        else if (statement.StartsWith("ALTER", "DOMAIN"))
            AlterDomain(t, a);
        else if (statement.StartsWith("ALTER", "INDEX"))
            AlterIndex(t, a);
        else if (statement.StartsWith("ALTER", "TYPE") || statement.StartsWith("CREATE", "DOMAIN"))
            NoTableLock(statement, a);
        else if (statement.StartsWith("ALTER", "SEQUENCE"))
            TableLock(t, 2, "ALTER SEQUENCE", LockMode.ShareRowExclusive, a, dataLoss: false);
        else if (statement.StartsWith("CREATE", "POLICY") || statement.StartsWith("ALTER", "POLICY") || statement.StartsWith("DROP", "POLICY"))
            Policy(t, a);
        else if (IsRoutine(t, out var routineAt))
            Routine(t, routineAt, a);
        else if (statement.StartsWith("DROP", "FUNCTION") || statement.StartsWith("DROP", "PROCEDURE"))
            DropRoutine(t, a);
        else if (statement.StartsWith("DO"))
            DoBlock(t, a);
        else if (statement.StartsWith("ANALYZE") || statement.StartsWith("VACUUM"))
            Maintenance(t, a);
        else if (statement.StartsWith("CREATE", "TABLE"))
            CreateTable(t, a);
        else if (statement.StartsWith("DROP", "TABLE"))
        {
            TableLock(t, 2, "DROP TABLE", LockMode.AccessExclusive, a, dataLoss: true);
            // Its foreign keys' triggers go from the referenced tables too.
            foreach (var table in a.Locks.Select(l => l.Table).ToList())
            {
                foreach (var key in _facts.KeysOn(table))
                    a.Lock(_facts.AsWritten(key.Referenced), LockMode.AccessExclusive);
                LockEachIndex(table, LockMode.AccessExclusive, a);
            }
        }
        else if (statement.StartsWith("TRUNCATE"))
        {
            TableLock(t, 1, "TRUNCATE", LockMode.AccessExclusive, a, dataLoss: true);
            // Each index gets a new, empty file.
            foreach (var table in a.Locks.Select(l => l.Table).ToList())
                LockEachIndex(table, LockMode.AccessExclusive, a);
        }
        else if (statement.StartsWith("LOCK"))
            LockTable(t, a);
        else if (statement.StartsWith("UPDATE") || statement.StartsWith("DELETE") || statement.StartsWith("INSERT"))
            Dml(t, a);
        else if (statement.StartsWith("CREATE", "TRIGGER") || statement.StartsWith("CREATE", "OR", "REPLACE", "TRIGGER"))
            OnTable(t, "CREATE TRIGGER", LockMode.ShareRowExclusive, a);
        else if (statement.StartsWith("REFRESH", "MATERIALIZED", "VIEW"))
        {
            var concurrently = statement.Tokens.Any(x => x.Is("CONCURRENTLY"));
            TableLock(t, concurrently ? 4 : 3, "REFRESH MATERIALIZED VIEW", concurrently ? LockMode.Exclusive : LockMode.AccessExclusive, a, dataLoss: false);
            foreach (var view in a.Locks.Select(l => l.Table).ToList())
            {
                foreach (var source in _facts.ViewSources.GetValueOrDefault(_facts.Qualify(view)) ?? [])
                {
                    a.Lock(_facts.AsWritten(source), LockMode.AccessShare);
                    LockEachIndex(_facts.AsWritten(source), LockMode.AccessShare, a);   // the view's query is planned
                }
                if (concurrently)
                    LockEachIndex(view, LockMode.RowExclusive, a);   // the difference is written into it, row by row
                else
                    a.Rewrite(view);
            }
            // CONCURRENTLY compares the new result with every row of the view, under a lock that stops its other writers.
            a.ScansUnderLock = concurrently;
            if (!concurrently)
            {
                a.Warn(WarningLevel.Warning, "refresh-not-concurrently", "REFRESH MATERIALIZED VIEW rebuilds it under ACCESS EXCLUSIVE (its readers wait): use CONCURRENTLY (needs a unique index).");
            }
        }
        else if (statement.StartsWith("SELECT") || statement.StartsWith("WITH"))
            Query(t, a);
        else if (statement.StartsWith("SET") || statement.StartsWith("RESET")
                 || statement.StartsWith("SHOW") || statement.StartsWith("CREATE", "SCHEMA") || statement.StartsWith("CREATE", "EXTENSION")
                 || statement.StartsWith("CREATE", "ROLE") || statement.StartsWith("CREATE", "TYPE"))
            a.Kind = Words(t, 2);   // no table lock stronger than a read's
        else if (statement.StartsWith("GRANT") || statement.StartsWith("REVOKE"))
            a.Kind = t[0].Value;   // privileges change the catalog only: no table lock (checked against the server)
        else if (statement.StartsWith("CREATE", "DATABASE") || statement.StartsWith("DROP", "DATABASE") || statement.StartsWith("ALTER", "SYSTEM")
                 || statement.StartsWith("CREATE", "TABLESPACE") || statement.StartsWith("DROP", "TABLESPACE"))
            ServerWide(statement, a);
        else
            Unknown(t, a);

        foreach (var table in a.Rewritten)
            foreach (var index in _facts.IndexesOf(table))
                a.IndexLock(index, LockMode.AccessExclusive);
        if (!ReferenceEquals(_facts, _default))
            // The script chose its own search path: name what it resolves to, since whoever reads the plan (the executor's
            // other sessions, a person) resolves bare names with the target's default path.
            a.Qualify(_facts);

        if (statement.RequiresAutocommit)
        {
            a.CanRunInTransaction = false;
            if (statement.Block is not null)
                a.Warn(WarningLevel.Error, "concurrently-in-transaction", $"{a.Kind} cannot run inside a transaction block (BEGIN … COMMIT): it will fail.");
        }
        CommonChecks(statement, a);
        EmptyTablesAreInstant(a);
        return a.Build();
    }

    // REINDEX {INDEX|TABLE} [CONCURRENTLY] name: SHARE on the table (SHARE UPDATE EXCLUSIVE concurrently), ACCESS EXCLUSIVE
    // on the index being rebuilt — reads that would use it wait too.
    private void Reindex(SqlStatement statement, Builder a)
    {
        var t = statement.Tokens;
        var concurrently = t.Any(x => x.Is("CONCURRENTLY"));
        a.Kind = concurrently ? "REINDEX CONCURRENTLY" : "REINDEX";
        var at = 1;
        if (at < t.Count && t[at].Value == "(")
            while (at < t.Count && t[at].Value != ")") at++;
        if (at < t.Count && t[at].Value == ")") at++;
        var what = at < t.Count ? t[at].Value : "";
        at = Skip(t, at + 1, "CONCURRENTLY");
        if (what is "DATABASE" or "SYSTEM" or "SCHEMA")
            a.CanRunInTransaction = false;
        if (ReadName(t, ref at) is not { } name)
            return;
        if (what is "DATABASE" or "SYSTEM" or "SCHEMA")
        {
            a.CanRunInTransaction = false;
            a.Warn(WarningLevel.Warning, "reindex-wide", $"REINDEX {what} rebuilds every index in it, each under a lock that blocks writes: reindex the indexes you need, CONCURRENTLY.");
            return;
        }
        var table = what == "INDEX" ? _facts.TableOfIndex(name) is { } owner ? _facts.AsWritten(owner) : null : name;
        if (table is not null)
            a.Lock(table, concurrently ? LockMode.ShareUpdateExclusive : LockMode.Share);
        if (what == "INDEX" && !concurrently)
            a.Lock(name, LockMode.AccessExclusive);
        else if (what == "INDEX")
            a.IndexLock(name, LockMode.ShareUpdateExclusive);
        else
            LockEachIndex(name, concurrently ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive, a);
        // Each build reads the whole table; without CONCURRENTLY, under a lock that stops its writers.
        a.ScansUnderLock = !concurrently;
        if (!concurrently)
            a.Warn(WarningLevel.Warning, "reindex-not-concurrently",
                $"REINDEX without CONCURRENTLY blocks writes to {table?.ToString() ?? "the index's table"} and every read that would use the index: use REINDEX … CONCURRENTLY.");
    }

    // CLUSTER name [USING index]: ACCESS EXCLUSIVE and a rewrite of the table and its indexes.
    private void Cluster(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = "CLUSTER";
        var at = 1;
        if (at < t.Count && t[at].Value == "(")
            while (at < t.Count && t[at++].Value != ")") { }
        at = Skip(t, at, "VERBOSE");
        if (ReadName(t, ref at) is not { } table)
        {
            a.CanRunInTransaction = false;   // CLUSTER of every clustered table cannot run in a block
            return;
        }
        a.Lock(table, LockMode.AccessExclusive);
        a.Rewrite(table);
        a.Warn(WarningLevel.Warning, "cluster", $"CLUSTER rewrites {Sized(a, table)} and its indexes under ACCESS EXCLUSIVE: use pg_repack or pg_squeeze.");
    }

    // COMMENT ON TABLE t / COLUMN t.c / VIEW v / INDEX i: SHARE UPDATE EXCLUSIVE on the relation (an index's table is not locked).
    private static void Comment(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = "COMMENT";
        var at = 2;
        var what = at < t.Count ? t[at].Value : "";
        at = Skip(t, at + 1, "MATERIALIZED");
        if (what == "MATERIALIZED") at = Skip(t, at, "VIEW");
        if (what is not ("TABLE" or "COLUMN" or "VIEW" or "MATERIALIZED" or "INDEX") || ReadName(t, ref at) is not { } name)
            return;
        // COLUMN t.c names the table in its first part (or schema.table in the first two).
        var table = what == "COLUMN"
            ? at + 1 < t.Count && t[at].Value == "." && Identifier(t[at + 1]) is not null ? name : new DbObjectName(null, name.Schema ?? name.Name)
            : name;
        a.Lock(table, LockMode.ShareUpdateExclusive);
    }

    // CREATE [OR REPLACE] [MATERIALIZED] VIEW v AS query: ACCESS SHARE on what it reads; replacing a view locks it.
    private void CreateView(SqlStatement statement, Builder a)
    {
        var t = statement.Tokens;
        var materialized = t.Any(x => x.Is("MATERIALIZED"));
        a.Kind = materialized ? "CREATE MATERIALIZED VIEW" : "CREATE VIEW";
        var at = Index(t, "VIEW") + 1;
        at = Skip(t, at, "IF", "NOT", "EXISTS");
        var view = ReadName(t, ref at);
        if (view is not null && statement.StartsWith("CREATE", "OR", "REPLACE") && (!_facts.Known || _facts.Exists(view)))
            a.Lock(view, LockMode.AccessExclusive);
        foreach (var source in ReadFrom(t, Index(t, "AS")))
        {
            a.Lock(source, LockMode.AccessShare);
            if (materialized)
                LockEachIndex(source, LockMode.AccessShare, a);   // its query is planned; a plain view's is only parsed
        }
    }

    // ALTER DOMAIN d ADD CONSTRAINT …: SHARE on every table with a column of the domain, which it scans.
    private void AlterDomain(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = "ALTER DOMAIN";
        var at = 2;
        if (ReadName(t, ref at) is not { } domain)
            return;
        var adds = at < t.Count && (t[at].Is("ADD") || t[at].Is("VALIDATE") || t[at].Is("SET") && at + 1 < t.Count && t[at + 1].Is("NOT"));
        if (!adds)
            return;
        if (_facts.Known)
        {
            foreach (var table in _facts.DomainTables.GetValueOrDefault(_facts.Qualify(domain)) ?? [])
            {
                a.Lock(_facts.AsWritten(table), LockMode.Share);
                a.ScansUnderLock = true;
            }
        }
        else
        {
            a.Unknown = true;
            a.Warn(WarningLevel.Warning, "unknown-lock", $"ALTER DOMAIN {domain} takes SHARE on, and scans, every table with a column of it: run plan --target to name them.");
        }
    }

    private static void NoTableLock(SqlStatement statement, Builder a)
    {
        a.Kind = Words(statement.Tokens, 2);
    }

    // Functions PostgreSQL ships that take no lock beyond what their arguments read (sequence functions lock only the
    // sequence, the advisory ones no relation). A SELECT calling any other function is calling code ChatOps cannot see into.
    private static readonly HashSet<string> BuiltInFunctions =
    [
        "COUNT", "SUM", "MIN", "MAX", "AVG", "COALESCE", "NULLIF", "GREATEST", "LEAST", "NOW", "LOWER", "UPPER", "LENGTH", "CHAR_LENGTH",
        "OCTET_LENGTH", "SUBSTRING", "SUBSTR", "TRIM", "BTRIM", "LTRIM", "RTRIM", "REPLACE", "CONCAT", "CONCAT_WS", "FORMAT", "TO_CHAR",
        "TO_DATE", "TO_TIMESTAMP", "TO_NUMBER", "DATE_TRUNC", "DATE_PART", "EXTRACT", "ABS", "ROUND", "CEIL", "CEILING", "FLOOR", "MOD",
        "POWER", "SQRT", "RANDOM", "ARRAY_AGG", "STRING_AGG", "ARRAY_LENGTH", "CARDINALITY", "UNNEST", "GENERATE_SERIES",
        "JSONB_BUILD_OBJECT", "JSON_BUILD_OBJECT", "JSONB_AGG", "JSON_AGG", "TO_JSONB", "TO_JSON", "JSONB_SET", "JSONB_TYPEOF",
        "JSONB_ARRAY_LENGTH", "ROW_NUMBER", "RANK", "DENSE_RANK", "LAG", "LEAD", "BOOL_AND", "BOOL_OR", "EVERY", "MD5", "GEN_RANDOM_UUID",
        "CURRENT_SETTING", "SET_CONFIG", "PG_SLEEP", "PG_ADVISORY_LOCK", "PG_ADVISORY_UNLOCK", "PG_TRY_ADVISORY_LOCK",
        "PG_ADVISORY_XACT_LOCK", "PG_TRY_ADVISORY_XACT_LOCK", "PG_BACKEND_PID", "VERSION", "CURRENT_DATABASE", "CURRENT_SCHEMA",
        "QUOTE_IDENT", "QUOTE_LITERAL", "QUOTE_NULLABLE", "CLOCK_TIMESTAMP", "STATEMENT_TIMESTAMP", "TRANSACTION_TIMESTAMP",
        "TXID_CURRENT", "PG_CURRENT_XACT_ID", "AGE", "LEFT", "RIGHT", "POSITION", "SPLIT_PART", "REGEXP_REPLACE", "REGEXP_MATCH",
        "REGEXP_MATCHES", "STARTS_WITH", "ARRAY_TO_STRING", "STRING_TO_ARRAY", "ARRAY_APPEND", "ARRAY_PREPEND", "ARRAY_CAT",
        "ARRAY_POSITION", "ARRAY_REMOVE", "NEXTVAL", "CURRVAL", "SETVAL", "LASTVAL", "PG_SIZE_PRETTY", "PG_RELATION_SIZE",
        "PG_TOTAL_RELATION_SIZE", "PG_TABLE_SIZE", "PG_INDEXES_SIZE", "PG_TYPEOF", "OVERLAY", "EXISTS", "PG_CANCEL_BACKEND",
        "PG_TERMINATE_BACKEND", "PG_NOTIFY", "TO_REGCLASS", "FORMAT_TYPE", "PG_GET_INDEXDEF", "PG_GET_CONSTRAINTDEF", "HAS_TABLE_PRIVILEGE",
        "OBJ_DESCRIPTION", "COL_DESCRIPTION", "ARRAY_UPPER", "ARRAY_LOWER", "JSONB_EXTRACT_PATH_TEXT", "JSON_EXTRACT_PATH_TEXT",
        "JSONB_ARRAY_ELEMENTS", "JSON_ARRAY_ELEMENTS", "JSONB_EACH", "JSONB_OBJECT_KEYS", "JSONB_STRIP_NULLS", "ROW_TO_JSON", "JSONB_OBJECT_AGG",
        "ENCODE", "DECODE", "SHA256", "INITCAP", "LPAD", "RPAD", "REPEAT", "REVERSE", "STRPOS", "TRANSLATE", "SIGN", "TRUNC", "MAKE_DATE",
        "MAKE_INTERVAL", "DATE_BIN", "TO_TSVECTOR", "TO_TSQUERY", "NTILE", "FIRST_VALUE", "LAST_VALUE", "PERCENTILE_CONT", "STDDEV",
        "UUID_GENERATE_V4",
    ];

    // Words followed by "(" that do not call a function: clause keywords, row and array constructors, type modifiers.
    private static readonly HashSet<string> NotAFunction =
    [
        "IN", "VALUES", "ANY", "ALL", "SOME", "ARRAY", "ROW", "CAST", "OVER", "FILTER", "WITHIN", "AS", "MATERIALIZED", "USING", "ON",
        "AND", "OR", "NOT", "WHERE", "SELECT", "FROM", "JOIN", "RETURNING", "SET", "BY", "HAVING", "LIMIT", "OFFSET", "THEN", "ELSE",
        "WHEN", "CASE", "LATERAL", "TABLE", "UNION", "EXCEPT", "INTERSECT", "DISTINCT", "PARTITION", "ROWS", "RANGE", "WITH", "RECURSIVE",
        "IS", "LIKE", "ILIKE", "BETWEEN", "INTO", "CONFLICT", "DO", "UPDATE", "DELETE", "INSERT", "GROUPING", "SETS", "CUBE", "ROLLUP",
        "VARCHAR", "CHAR", "CHARACTER", "VARYING", "NUMERIC", "DECIMAL", "TIMESTAMP", "TIME", "INTERVAL", "BIT", "FLOAT", "PRECISION",
        "IF", "ELSIF", "LOOP", "WHILE", "RETURN", "RAISE", "PERFORM", "EXECUTE", "ORDER", "GROUP",
    ];

    // SELECT / WITH: a data-modifying CTE (and the DML a WITH leads to) takes that DML's locks on its table; a call of a
    // function that is not a known built-in may lock anything, so the statement fails safe.
    private void Query(IReadOnlyList<SqlToken> t, Builder a)
    {
        var ctes = CteNames(t);
        var modifies = new List<string>();
        for (var i = 1; i < t.Count; i++)
        {
            if (!(t[i].Is("UPDATE") || t[i].Is("DELETE") || t[i].Is("INSERT")) || t[i - 1].Kind != SqlTokenKind.Symbol || t[i - 1].Value is not ("(" or ")"))
                continue;
            Dml(t.Skip(i).Take(ClosingParenthesis(t, i) - i).ToList(), a);
            modifies.Add(t[i].Value);
        }
        a.Kind = modifies.Count == 0 ? t[0].Value : "WITH " + string.Join(", ", modifies.Distinct());
        var calls = FunctionCalls(t, ctes);
        if (calls.Count == 0)
            return;
        var names = ReadFrom(t, 0).Where(n => !(n.Schema is null && ctes.Contains(n.Name)) && !calls.Contains(n))
            .Concat(t.Where(x => x.Kind == SqlTokenKind.String).SelectMany(x => _facts.Known && NameIn(x.Value) is { } n ? [n] : RelationsNamedIn(x.Value, depth: 1, anyNamedString: false)))
            // With the catalog, what the functions' bodies name too (one level: a function they call is not followed).
            .Concat(calls.SelectMany(_facts.BodiesOf).SelectMany(body => RelationsNamedIn(body, depth: 0, anyNamedString: true)))
            .Concat(a.Locks.Select(l => l.Table)).ToList();
        FailSafe(names, a, $"{string.Join(", ", calls.Select(c => c + "()"))} {(calls.Count == 1 ? "is not a built-in" : "are not built-ins")} ChatOps knows, so it cannot read what {(calls.Count == 1 ? "it locks" : "they lock")}");
    }

    /// <summary>The index of the ")" closing the parenthesis <paramref name="at"/> is inside (the end when there is none).</summary>
    private static int ClosingParenthesis(IReadOnlyList<SqlToken> t, int at)
    {
        for (int i = at, depth = 0; i < t.Count; i++)
        {
            if (t[i].Kind != SqlTokenKind.Symbol) continue;
            if (t[i].Value == "(") depth++;
            else if (t[i].Value == ")" && depth-- == 0) return i;
        }
        return t.Count;
    }

    // WITH [RECURSIVE] name [(columns)] AS [NOT] [MATERIALIZED] (…) [, …]
    private static HashSet<string> CteNames(IReadOnlyList<SqlToken> t)
    {
        var names = new HashSet<string>();
        if (t.Count == 0 || !t[0].Is("WITH"))
            return names;
        for (var at = Skip(t, 1, "RECURSIVE"); at < t.Count && Identifier(t[at]) is { } name;)
        {
            names.Add(name);
            at++;
            if (at < t.Count && t[at].Value == "(") at = ClosingParenthesis(t, at + 1) + 1;
            at = Skip(t, at, "AS");
            at = Skip(t, at, "NOT");
            at = Skip(t, at, "MATERIALIZED");
            if (at >= t.Count || t[at].Value != "(") break;
            at = ClosingParenthesis(t, at + 1) + 1;
            if (at < t.Count && t[at].Value == ",") at++; else break;
        }
        return names;
    }

    /// <summary>The functions a query calls that are not known built-ins (<c>f()</c>, <c>app.f()</c>, <c>FROM f()</c>).</summary>
    private static List<DbObjectName> FunctionCalls(IReadOnlyList<SqlToken> t, HashSet<string> ctes)
    {
        var calls = new List<DbObjectName>();
        for (var i = 0; i + 1 < t.Count; i++)
        {
            if (t[i + 1].Kind != SqlTokenKind.Symbol || t[i + 1].Value != "(" || Identifier(t[i]) is not { } name)
                continue;
            var qualified = i >= 2 && t[i - 1].Value == "." && Identifier(t[i - 2]) is not null;
            var before = qualified ? i - 3 : i - 1;
            // INSERT INTO t (columns), an alias's column list (AS x (a, b)): not calls.
            if (before >= 0 && (t[before].Is("INTO") || t[before].Is("AS")))
                continue;
            if (t[i].Kind == SqlTokenKind.Word && NotAFunction.Contains(t[i].Value) || ctes.Contains(name))
                continue;
            var schema = qualified ? Identifier(t[i - 2]) : null;
            if (schema is null or "pg_catalog" && t[i].Kind == SqlTokenKind.Word && BuiltInFunctions.Contains(t[i].Value))
                continue;
            var call = new DbObjectName(schema, name);
            if (!calls.Contains(call)) calls.Add(call);
        }
        return calls;
    }

    // Findings about work proportional to a table's size (a rewrite, a scan, an index build, a backfill): on a table the
    // target shows empty they are instant, so they become notes saying so.
    private static readonly HashSet<string> WorkRules =
    [
        "volatile-default", "add-column-rewrite", "column-type-change", "set-not-null", "constraint-not-valid", "constraint-builds-index",
        "index-not-concurrently", "cluster", "vacuum-full", "set-logged", "attach-partition-scan", "unbatched-dml",
    ];

    /// <summary>The table's name with its size when the target's catalog knows it ("public.contacts (~1.2M rows)"); the
    /// statement's work findings are judged by the tables named this way.</summary>
    private string Sized(Builder a, DbObjectName table)
    {
        a.WorkTables.Add(table);
        return _facts.SizeOf(table)?.Describe() is { } size ? $"{table} ({size})" : table.ToString();
    }

    // Every table the work findings name is empty: the work is instant, the finding a note.
    private void EmptyTablesAreInstant(Builder a)
    {
        if (a.WorkTables.Count == 0 || !a.WorkTables.All(t => _facts.SizeOf(t)?.Empty == true))
            return;
        for (var i = 0; i < a.Warnings.Count; i++)
            if (WorkRules.Contains(a.Warnings[i].Rule) && a.Warnings[i].Level == WarningLevel.Warning)
                a.Warnings[i] = a.Warnings[i] with { Level = WarningLevel.Notice, Message = "the table is empty: instant. " + a.Warnings[i].Message };
    }

    /// <summary>Every index of <paramref name="table"/> the catalog knows, in <paramref name="mode"/>.</summary>
    private void LockEachIndex(DbObjectName table, LockMode mode, Builder a)
    {
        foreach (var index in _facts.IndexesOf(table))
            a.IndexLock(index, mode);
    }

    // A foreign key's validation is a query the server plans over both tables: ACCESS SHARE on each of their indexes.
    private void ValidationQuery(DbObjectName table, DbObjectName referenced, Builder a)
    {
        LockEachIndex(table, LockMode.AccessShare, a);
        LockEachIndex(referenced, LockMode.AccessShare, a);
    }

    // ALTER INDEX name RENAME TO …: SHARE UPDATE EXCLUSIVE on the index (checked against the server); any other form is
    // not known, so it fails safe.
    private void AlterIndex(IReadOnlyList<SqlToken> t, Builder a)
    {
        var at = Skip(t, 2, "IF", "EXISTS");
        if (ReadName(t, ref at) is { } index && at < t.Count && t[at].Is("RENAME"))
        {
            a.Kind = "ALTER INDEX";
            a.Lock(index, LockMode.ShareUpdateExclusive);
            return;
        }
        Unknown(t, a);
    }

    /// <summary>The relations after FROM and JOIN from <paramref name="at"/> on (a view's or a function's query).</summary>
    private static IEnumerable<DbObjectName> ReadFrom(IReadOnlyList<SqlToken> t, int at)
    {
        for (var i = Math.Max(0, at); i < t.Count; i++)
        {
            if (!(t[i].Is("FROM") || t[i].Is("JOIN"))) continue;
            var next = Skip(t, i + 1, "ONLY");
            if (next < t.Count && t[next].Value != "(" && ReadName(t, ref next) is { } name)
                yield return name;
        }
    }

    private static string Words(IReadOnlyList<SqlToken> t, int count) =>
        string.Join(' ', t.TakeWhile(x => x.Kind == SqlTokenKind.Word).Take(count).Select(x => x.Value));

    // Statements that cannot run in a transaction block and act on the whole server, not on a table.
    private static void ServerWide(SqlStatement statement, Builder a)
    {
        a.Kind = Words(statement.Tokens, 2);
        a.CanRunInTransaction = false;
        if (statement.StartsWith("DROP", "DATABASE"))
            a.Warn(WarningLevel.Error, "drop-database", "DROP DATABASE destroys a whole database: it has no place in a migration.");
        else
            a.Warn(WarningLevel.Warning, "server-wide", $"{a.Kind} acts on the whole server and cannot run in a transaction block: run it by hand, not in a migration.");
    }

    /// <summary>
    /// A statement whose lock is not known: fail safe — ACCESS EXCLUSIVE on every name it mentions that could be a
    /// relation (the executor asks the server which of them are), with a finding saying so.
    /// </summary>
    private void Unknown(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = Words(t, 2);
        var names = new List<DbObjectName>();
        for (var at = 0; at < t.Count;)
        {
            if (t[at].Kind == SqlTokenKind.Word && NotANameWords.Contains(t[at].Value) || t[at].Kind is not (SqlTokenKind.Word or SqlTokenKind.QuotedIdentifier))
            {
                at++;
                continue;
            }
            if (ReadName(t, ref at) is not { } name)
                continue;
            // "a.b" is schema.relation or relation.column (COMMENT ON COLUMN t.c): keep both readings.
            foreach (var candidate in name.Schema is null ? [name] : new[] { name, new DbObjectName(null, name.Schema) })
                if (!names.Contains(candidate))
                    names.Add(candidate);
        }
        foreach (var name in names)
            a.Lock(name, LockMode.AccessExclusive);
        a.Unknown = true;
        a.Warn(WarningLevel.Warning, "unknown-lock",
            $"ChatOps does not know which lock {a.Kind} takes: it is treated as ACCESS EXCLUSIVE on {(names.Count == 0 ? "nothing it can name" : string.Join(", ", names))} " +
            "— the executor waits for their users before running it, and its hold counts against the ACCESS EXCLUSIVE criterion.");
    }

    // Words that are never the name of a relation in the statements Unknown meets (keywords and clause words).
    private static readonly HashSet<string> NotANameWords =
    [
        "ALTER", "CREATE", "DROP", "REPLACE", "OR", "IF", "EXISTS", "NOT", "ONLY", "TABLE", "INDEX", "VIEW", "MATERIALIZED", "SEQUENCE", "TYPE",
        "DOMAIN", "SCHEMA", "FUNCTION", "PROCEDURE", "TRIGGER", "RULE", "ON", "TO", "FROM", "IN", "AS", "IS", "USING", "WITH", "WITHOUT", "SET",
        "RESET", "RENAME", "OWNER", "ADD", "VALUE", "BEFORE", "AFTER", "CONSTRAINT", "CHECK", "NULL", "DEFAULT", "COLUMN", "CASCADE", "RESTRICT",
        "REINDEX", "CLUSTER", "COMMENT", "GRANT", "REVOKE", "ALL", "PRIVILEGES", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
        "USAGE", "EXECUTE", "PUBLIC", "CONCURRENTLY", "VERBOSE", "TABLESPACE", "STATISTICS", "CALL", "REFRESH", "DATA", "NO", "AND", "FOR", "EACH",
        "ROW", "STATEMENT", "VALID", "VALIDATE", "ATTACH", "DETACH", "PARTITION", "OF", "FINALIZE", "ENABLE", "DISABLE", "ALWAYS", "REPLICA",
        "LOGGED", "UNLOGGED", "SECURITY", "DEFINER", "INVOKER", "LANGUAGE", "RETURNS", "BEGIN", "END", "COMMIT", "ROLLBACK", "TRUE", "FALSE",
        "CURRENT_USER", "SESSION_USER", "CURRENT_ROLE", "INCREMENT", "BY", "MINVALUE", "MAXVALUE", "START", "RESTART", "CACHE", "CYCLE", "OWNED",
        "NONE", "IMPORT", "FOREIGN", "SERVER", "EXTENSION", "ROLE", "USER", "GROUP", "OPTION", "ADMIN", "INHERIT", "DATABASE", "SYSTEM",
    ];

    /// <summary>Checks that apply whatever the statement: identifier length, CASCADE, domain constraints, enum order, and the style rules.</summary>
    private void CommonChecks(SqlStatement statement, Builder a)
    {
        var t = statement.Tokens;
        if (t.FirstOrDefault(x => x.Kind is SqlTokenKind.Word or SqlTokenKind.QuotedIdentifier && System.Text.Encoding.UTF8.GetByteCount(x.Value) > 63) is { Value: { } longName })
            a.Warn(WarningLevel.Warning, "identifier-too-long",
                $"{longName[..20]}… is longer than 63 bytes: PostgreSQL truncates it silently, so two names can collide and later statements miss it. Shorten it.");
        if (statement.StartsWith("TRUNCATE") && t.Any(x => x.Is("CASCADE")))
            a.Warn(WarningLevel.Warning, "ban-truncate-cascade", "TRUNCATE … CASCADE also empties every table that references these, however far: name the tables to truncate.");
        if (statement.StartsWith("CREATE", "DOMAIN") && t.Any(x => x.Is("CHECK") || x.Is("CONSTRAINT")))
            a.Warn(WarningLevel.Warning, "ban-create-domain-with-constraint",
                "a domain's constraint is checked against every column of it, and changing it later scans every table using it under SHARE: use a CHECK on the table.");
        if (statement.StartsWith("ALTER", "DOMAIN") && t.Any(x => x.Is("ADD")))
            a.Warn(WarningLevel.Warning, "ban-alter-domain-with-add-constraint",
                "ALTER DOMAIN … ADD CONSTRAINT scans every table with a column of the domain under SHARE (writes wait): add a NOT VALID CHECK on each table instead.");
        if (statement.StartsWith("ALTER", "TYPE") && t.Any(x => x.Is("ADD")) && t.Any(x => x.Is("VALUE")) && !t.Any(x => x.Is("BEFORE") || x.Is("AFTER")))
            a.Warn(WarningLevel.Notice, "require-enum-value-ordering",
                "ADD VALUE without BEFORE or AFTER puts the value last: enum comparisons and ORDER BY follow that order. Say where it goes.");
        if (statement.StartsWith("ALTER", "TYPE") && t.Any(x => x.Is("RENAME")) && t.Any(x => x.Is("VALUE")))
            a.Warn(WarningLevel.Notice, "renaming-enum-value", "renaming an enum value breaks application code that still writes or compares the old value.");
        if (statement.StartsWith("ALTER", "SCHEMA") && t.Any(x => x.Is("RENAME")))
            a.Warn(WarningLevel.Warning, "renaming-schema", "renaming a schema breaks every qualified name the application uses in it.");
        if (!_strict)
            return;
        StyleRules(statement, a);
    }

    // Style (squawk's prefer-* and ban-char-field, strong_migrations' index width): notes under --strict.
    private static void StyleRules(SqlStatement statement, Builder a)
    {
        var t = statement.Tokens;
        var defines = statement.StartsWith("CREATE", "TABLE") || statement.StartsWith("ALTER", "TABLE") && t.Any(x => x.Is("ADD") || x.Is("TYPE"));
        if (defines)
        {
            for (var i = 0; i < t.Count; i++)
            {
                if (t[i].Kind != SqlTokenKind.Word) continue;
                var next = i + 1 < t.Count ? t[i + 1] : default;
                switch (t[i].Value)
                {
                    case "CHAR" or "CHARACTER" when !next.Is("VARYING"):
                        a.Warn(WarningLevel.Notice, "ban-char-field", "char(n) pads with spaces and compares surprisingly: use text (with a CHECK on its length if needed).");
                        break;
                    case "VARCHAR" or "VARYING" when next.Value == "(":
                        a.Warn(WarningLevel.Notice, "prefer-text-field", "varchar(n) needs an ACCESS EXCLUSIVE change to grow: use text with a CHECK (length(…) <= n), which can be NOT VALID.");
                        break;
                    case "INT" or "INTEGER" or "INT4" or "SERIAL" or "SERIAL4":
                        a.Warn(WarningLevel.Notice, "prefer-bigint-over-int", "a 32-bit integer runs out at 2,147,483,647, and widening it later rewrites the table: use bigint.");
                        break;
                    case "SMALLINT" or "INT2" or "SMALLSERIAL" or "SERIAL2":
                        a.Warn(WarningLevel.Notice, "prefer-bigint-over-smallint", "a 16-bit integer runs out at 32,767: use bigint.");
                        break;
                    case "TIMESTAMP" when !(next.Is("WITH") && i + 2 < t.Count && t[i + 2].Is("TIME")):
                        a.Warn(WarningLevel.Notice, "prefer-timestamptz", "timestamp without time zone loses the zone: use timestamptz.");
                        break;
                }
                if (t[i].Value is "SERIAL" or "BIGSERIAL" or "SMALLSERIAL" or "SERIAL2" or "SERIAL4" or "SERIAL8")
                    a.Warn(WarningLevel.Notice, "prefer-identity", "serial's sequence is owned separately (permissions, dumps): use GENERATED … AS IDENTITY.");
            }
        }
        if ((statement.StartsWith("CREATE", "INDEX") || statement.StartsWith("CREATE", "UNIQUE", "INDEX")) && !t.Any(x => x.Is("UNIQUE")))
        {
            var open = t.ToList().FindIndex(x => x.Value == "(");
            var columns = 1;
            for (int i = open + 1, depth = 1; open >= 0 && i < t.Count && depth > 0; i++)
            {
                if (t[i].Value == "(") depth++;
                else if (t[i].Value == ")") depth--;
                else if (t[i].Value == "," && depth == 1) columns++;
            }
            if (columns > 3)
                a.Warn(WarningLevel.Notice, "index-columns", $"a non-unique index on {columns} columns: more than three rarely helps and costs every write; index what the queries filter on.");
        }
        if (statement.IsConcurrently && statement.StartsWith("CREATE") && !t.Any(x => x.Is("IF")))
            a.Warn(WarningLevel.Notice, "prefer-robust-stmts", "CREATE INDEX CONCURRENTLY without IF NOT EXISTS fails on a re-run after a partial one: add IF NOT EXISTS.");
    }

    // ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, action …]
    private void AlterTable(IReadOnlyList<SqlToken> t, int at, Builder a)
    {
        a.Kind = "ALTER TABLE";
        at = Skip(t, at, "IF", "EXISTS");
        at = Skip(t, at, "ONLY");
        if (ReadName(t, ref at) is not { } table)
            return;
        if (at < t.Count && t[at].Value == "*") at++;

        var actions = SplitTopLevel(t, at);
        if (actions.Count == 0)
        {
            // Only the table is known (e.g. dynamic SQL 'ALTER TABLE x ' || …): assume the strongest lock.
            a.Lock(table, LockMode.AccessExclusive);
            return;
        }
        foreach (var action in actions)
            AlterAction(table, action, a);
    }

    private void AlterAction(DbObjectName table, IReadOnlyList<SqlToken> x, Builder a)
    {
        bool Starts(params string[] words) => words.Length <= x.Count && words.Select((w, i) => x[i].Is(w)).All(b => b);

        if (Starts("VALIDATE", "CONSTRAINT"))
        {
            a.Lock(table, LockMode.ShareUpdateExclusive);
            _validated.Add(table);
            // Validating a foreign key reads the referenced table (ROW SHARE).
            if (x.Count > 2 && Identifier(x[2]) is { } validated && _facts.KeysOn(table).FirstOrDefault(k => k.Constraint == validated) is { } key)
            {
                a.Lock(_facts.AsWritten(key.Referenced), LockMode.RowShare);
                ValidationQuery(table, _facts.AsWritten(key.Referenced), a);
            }
            return;
        }
        if (Starts("ADD") && !Starts("ADD", "COLUMN") && x.Count > 1 &&
            (x[1].Is("CONSTRAINT") || x[1].Is("CHECK") || x[1].Is("FOREIGN") || x[1].Is("PRIMARY") || x[1].Is("UNIQUE") || x[1].Is("EXCLUDE")))
        {
            AddConstraint(table, x, a);
            return;
        }
        if (Starts("ADD"))
        {
            var at = Skip(x, 1, "COLUMN");
            at = Skip(x, at, "IF", "NOT", "EXISTS");
            a.Lock(table, LockMode.AccessExclusive);
            if (at < x.Count && Identifier(x[at]) is { } column)
                a.Postconditions.Add(new ColumnExists(table, column));
            var defaultAt = Index(x, "DEFAULT");
            if (defaultAt >= 0 && x.Skip(defaultAt + 1).Any(v => v.Kind == SqlTokenKind.Word && VolatileFunctions.Contains(v.Value)))
            {
                a.Rewrite(table);
                a.Warn(WarningLevel.Warning, "volatile-default",
                    $"ADD COLUMN with a volatile default rewrites {Sized(a, table)} and its indexes under ACCESS EXCLUSIVE: add the column without a default, then SET DEFAULT and backfill in batches.");
            }
            AddColumnExtras(table, x, at, a);
            var notNull = x.Select((v, i) => v.Is("NOT") && i + 1 < x.Count && x[i + 1].Is("NULL")).Any(b => b);
            if (notNull && defaultAt < 0 && !x.Any(v => v.Is("GENERATED")) && !_created.Contains(table))
            {
                // On a table the target shows empty it succeeds — unless a row arrives first.
                var empty = _facts.SizeOf(table)?.Empty == true;
                a.Warn(empty ? WarningLevel.Notice : WarningLevel.Error, "adding-required-field",
                    (empty ? "the table is empty now, so this succeeds unless a row arrives first. " : "") +
                    $"ADD COLUMN … NOT NULL without a DEFAULT fails on {table} as soon as it has a row: add a DEFAULT, or add it nullable, backfill, then SET NOT NULL the safe way.");
            }
            // After the risks: a note for the application, listed last.
            a.Warn(WarningLevel.Notice, "add-column-row-type",
                $"ADD COLUMN changes the row type of {table}: an application's prepared SELECT * (or RETURNING *) on it fails with \"cached plan must not change result type\" until it prepares again. Name the columns, or expect one error per prepared statement.");
            return;
        }
        if (Starts("DROP", "CONSTRAINT"))
        {
            a.Lock(table, LockMode.AccessExclusive);
            var at = Skip(x, 2, "IF", "EXISTS");
            if (at < x.Count && Identifier(x[at]) is { } name)
            {
                a.Postconditions.Add(new ConstraintExists(table, name, Exists: false));
                // Dropping a foreign key removes its triggers from the referenced table too: ACCESS EXCLUSIVE there as well.
                if (_facts.KeysOn(table).FirstOrDefault(k => k.Constraint == name) is { } key)
                    a.Lock(_facts.AsWritten(key.Referenced), LockMode.AccessExclusive);
                // A unique, primary-key or exclusion constraint's index bears its name and goes with it.
                foreach (var index in _facts.IndexesOf(table).Where(i => i.Name == name))
                    a.IndexLock(index, LockMode.AccessExclusive);
            }
            return;
        }
        if (Starts("DROP"))
        {
            var at = Skip(x, 1, "COLUMN");
            at = Skip(x, at, "IF", "EXISTS");
            a.Lock(table, LockMode.AccessExclusive);
            if (at < x.Count && Identifier(x[at]) is { } column)
            {
                // The indexes using the column are dropped with it.
                foreach (var index in _facts.IndexesOn(table, column))
                    a.IndexLock(index, LockMode.AccessExclusive);
                a.Postconditions.Add(new ColumnExists(table, column, Exists: false));
                a.Warn(WarningLevel.Warning, "drop-column", $"DROP COLUMN {column} loses its data, and application code still reading it will fail.");
            }
            return;
        }
        if (Starts("ALTER"))
        {
            var at = Skip(x, 1, "COLUMN");
            if (at >= x.Count || Identifier(x[at]) is not { } column)
            {
                a.Lock(table, LockMode.AccessExclusive);
                return;
            }
            at++;
            bool Then(params string[] words) => at + words.Length <= x.Count && words.Select((w, i) => x[at + i].Is(w)).All(b => b);
            if (Then("SET", "STATISTICS"))
            {
                a.Lock(table, LockMode.ShareUpdateExclusive);
                return;
            }
            a.Lock(table, LockMode.AccessExclusive);
            if (Then("SET", "DEFAULT")) a.Postconditions.Add(new ColumnHasDefault(table, column, true));
            else if (Then("DROP", "DEFAULT")) a.Postconditions.Add(new ColumnHasDefault(table, column, false));
            else if (Then("DROP", "NOT", "NULL"))
            {
                a.Postconditions.Add(new ColumnNotNull(table, column, false));
                a.Warn(WarningLevel.Notice, "ban-drop-not-null", $"{table}.{column} may now be NULL: application code that assumes a value will meet one.");
            }
            else if (Then("SET", "NOT", "NULL"))
            {
                a.Postconditions.Add(new ColumnNotNull(table, column, true));
                if (!_validated.Contains(table) && !_facts.HasValidatedNotNullCheck(table, column))
                {
                    a.ScansUnderLock = true;
                    a.Warn(WarningLevel.Warning, "set-not-null",
                        $"SET NOT NULL scans all of {Sized(a, table)} under ACCESS EXCLUSIVE: first ADD CONSTRAINT … CHECK ({column} IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (PG12+ then skips the scan).");
                }
            }
            else if (Then("TYPE") || Then("SET", "DATA", "TYPE"))
            {
                var typeAt = Then("TYPE") ? at + 1 : at + 3;
                var current = _facts.ColumnType(table, column);
                // USING computes every value anew: a rewrite, whatever the types.
                var computed = x.Skip(typeAt).Any(v => v.Is("USING"));
                if (current is not null && !computed && ColumnTypes.IsBinaryCompatibleWidening(current, x.Skip(typeAt).TakeWhile(v => !v.Is("COLLATE")).ToList()))
                {
                    foreach (var index in _facts.IndexesOn(table, column))
                        a.IndexLock(index, LockMode.AccessExclusive);
                    a.Warn(WarningLevel.Notice, "column-type-widening",
                        $"{column} widens from {current} without a rewrite (the catalog changes, the rows do not); its indexes are rebuilt in place.");
                }
                else
                {
                    a.Rewrite(table);
                    a.Warn(WarningLevel.Warning, "column-type-change",
                        $"changing the type of {column} rewrites {Sized(a, table)} and its indexes under ACCESS EXCLUSIVE" +
                        (current is null ? " unless it only widens varchar(n), varchar → text or numeric's precision (plan --target checks)" : $" ({current} is not binary-compatible with the new type)") +
                        ": add a new column, backfill, and swap.");
                }
            }
            return;
        }
        if (Starts("ENABLE", "TRIGGER") || Starts("DISABLE", "TRIGGER") || Starts("ENABLE", "ALWAYS", "TRIGGER") || Starts("ENABLE", "REPLICA", "TRIGGER"))
        {
            a.Lock(table, LockMode.ShareRowExclusive);
            return;
        }
        if (Starts("CLUSTER", "ON"))
        {
            a.Lock(table, LockMode.ShareUpdateExclusive);
            var at = 2;
            if (ReadName(x, ref at) is { } index)
                a.IndexLock(index with { Schema = index.Schema ?? table.Schema }, LockMode.ShareUpdateExclusive);
            return;
        }
        if (Starts("SET", "WITHOUT", "CLUSTER") || x.Count > 1 && x[0].Is("SET") && x[1].Value == "(" && OnlyLightStorageParameters(x))
        {
            a.Lock(table, LockMode.ShareUpdateExclusive);
            return;
        }
        if (Starts("SET", "LOGGED") || Starts("SET", "UNLOGGED"))
        {
            a.Lock(table, LockMode.AccessExclusive);
            a.Rewrite(table);
            a.Warn(WarningLevel.Warning, "set-logged", $"SET LOGGED / UNLOGGED rewrites {Sized(a, table)} and its indexes under ACCESS EXCLUSIVE.");
            return;
        }
        if (Starts("ATTACH", "PARTITION"))
        {
            // The parent: SHARE UPDATE EXCLUSIVE; the partition: ACCESS EXCLUSIVE, scanned unless a constraint already proves its bound.
            a.Lock(table, LockMode.ShareUpdateExclusive);
            var at = 2;
            if (ReadName(x, ref at) is { } partition)
            {
                a.Lock(partition, LockMode.AccessExclusive);
                a.ScansUnderLock = true;
                a.Warn(WarningLevel.Warning, "attach-partition-scan",
                    $"ATTACH PARTITION scans {Sized(a, partition)} under ACCESS EXCLUSIVE to check its bound: first ADD a CHECK constraint matching the bound (NOT VALID, then VALIDATE).");
            }
            return;
        }
        if (Starts("DETACH", "PARTITION"))
        {
            var concurrently = x.Any(v => v.Is("CONCURRENTLY"));
            a.Lock(table, concurrently ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive);
            var at = 2;
            if (ReadName(x, ref at) is { } partition)
                a.Lock(partition, LockMode.AccessExclusive);
            if (!concurrently)
                a.Warn(WarningLevel.Warning, "detach-partition-not-concurrently",
                    $"DETACH PARTITION takes ACCESS EXCLUSIVE on {table} (every partition's queries wait): use DETACH PARTITION … CONCURRENTLY (PG14+, outside a transaction block).");
            return;
        }
        if (Starts("RENAME"))
        {
            a.Lock(table, LockMode.AccessExclusive);
            var what = x.Count > 1 && x[1].Is("TO") ? "table" : x.Count > 1 && x[1].Is("CONSTRAINT") ? null : "column";
            if (what is not null)
                a.Warn(WarningLevel.Warning, $"rename-{what}",
                    $"renaming a {what} of {table} breaks application code that still uses the old name: add the new one, move the code, then drop the old one" +
                    (what == "table" ? " (or rename and leave a view under the old name)." : "."));
            return;
        }
        // ENABLE/DISABLE/FORCE ROW LEVEL SECURITY, OWNER TO, SET SCHEMA, other SET (…), …: ACCESS EXCLUSIVE.
        a.Lock(table, LockMode.AccessExclusive);
        if (Starts("OWNER", "TO"))
            LockEachIndex(table, LockMode.AccessExclusive, a);   // its indexes change owner with it
    }

    // Storage parameters PostgreSQL changes under SHARE UPDATE EXCLUSIVE; any other one needs ACCESS EXCLUSIVE.
    private static bool OnlyLightStorageParameters(IReadOnlyList<SqlToken> x)
    {
        var names = new List<string>();
        for (var i = 2; i < x.Count; i++)
        {
            if (x[i].Kind != SqlTokenKind.Word) continue;
            if (i > 2 && x[i - 1].Value is not ("(" or "," or ".")) continue;
            if (x[i - 1].Value == ".") { names[^1] += "." + x[i].Value; continue; }
            names.Add(x[i].Value);
        }
        return names.Count > 0 && names.All(n => n is "FILLFACTOR" or "PARALLEL_WORKERS" or "TOAST_TUPLE_TARGET"
            || n.StartsWith("AUTOVACUUM_", StringComparison.Ordinal) || n.StartsWith("TOAST.", StringComparison.Ordinal) || n == "TOAST");
    }

    // What ADD COLUMN's definition adds beyond the column: a rewrite for stored generated, identity and serial columns,
    // an index build or a scan under ACCESS EXCLUSIVE for inline UNIQUE / PRIMARY KEY / CHECK, the referenced table's lock.
    private void AddColumnExtras(DbObjectName table, IReadOnlyList<SqlToken> x, int columnAt, Builder a)
    {
        var type = columnAt + 1 < x.Count ? x[columnAt + 1].Value : "";
        var generatedStored = x.Any(v => v.Is("GENERATED")) && x.Any(v => v.Is("STORED"));
        var identity = x.Any(v => v.Is("GENERATED")) && x.Any(v => v.Is("IDENTITY"));
        if (generatedStored || identity || type is "SERIAL" or "BIGSERIAL" or "SMALLSERIAL" or "SERIAL4" or "SERIAL8" or "SERIAL2")
        {
            a.Rewrite(table);
            a.Warn(WarningLevel.Warning, "add-column-rewrite",
                $"{(generatedStored ? "a stored generated column" : identity ? "an identity column" : "a serial column")} is computed for every existing row: " +
                $"ADD COLUMN rewrites {Sized(a, table)} and its indexes under ACCESS EXCLUSIVE. Add a plain column, backfill it in batches, then attach the default or sequence.");
        }
        if (x.Any(v => v.Is("UNIQUE")) || x.Any(v => v.Is("PRIMARY")))
        {
            a.ScansUnderLock = true;
            a.Warn(WarningLevel.Warning, "constraint-builds-index",
                $"an inline UNIQUE / PRIMARY KEY builds its index on {Sized(a, table)} under ACCESS EXCLUSIVE: add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX.");
        }
        if (x.Any(v => v.Is("CHECK")))
        {
            a.ScansUnderLock = true;
            a.Warn(WarningLevel.Warning, "constraint-not-valid",
                $"an inline CHECK scans all of {Sized(a, table)} under ACCESS EXCLUSIVE: add the column, then ADD CONSTRAINT … CHECK … NOT VALID and VALIDATE CONSTRAINT.");
        }
        var refAt = Index(x, "REFERENCES") + 1;
        if (refAt > 0 && ReadName(x, ref refAt) is { } referenced)
        {
            a.Lock(referenced, LockMode.ShareRowExclusive);
            // A new column without a default is NULL in every row: nothing to check (the server does not scan). With one, every row is checked.
            var withDefault = Index(x, "DEFAULT") >= 0;
            a.ScansUnderLock |= withDefault;
            a.Warn(WarningLevel.Warning, "add-column-references",
                $"ADD COLUMN … REFERENCES {referenced} takes SHARE ROW EXCLUSIVE on {referenced} (its writes wait) under ACCESS EXCLUSIVE on {table}" +
                (withDefault ? ", and checks every row's default against it" : "") +
                ": add the column, then ADD CONSTRAINT … FOREIGN KEY … NOT VALID and VALIDATE CONSTRAINT.");
        }
        if (type is "JSON")
            a.Warn(WarningLevel.Notice, "prefer-jsonb", "json keeps the text as written and has no equality operator (DISTINCT, GROUP BY and UNION fail): use jsonb.");
    }

    private void AddConstraint(DbObjectName table, IReadOnlyList<SqlToken> x, Builder a)
    {
        var notValid = x.Select((v, i) => v.Is("NOT") && i + 1 < x.Count && x[i + 1].Is("VALID")).Any(b => b);
        string? name = x[1].Is("CONSTRAINT") && x.Count > 2 ? Identifier(x[2]) : null;
        if (name is not null)
            a.Postconditions.Add(new ConstraintExists(table, name));

        if (x.Any(v => v.Is("FOREIGN")))
        {
            a.Lock(table, LockMode.ShareRowExclusive);
            var refAt = Index(x, "REFERENCES") + 1;
            if (refAt > 0 && ReadName(x, ref refAt) is { } referenced)
            {
                a.Lock(referenced, LockMode.ShareRowExclusive);
                if (!notValid)
                    ValidationQuery(table, referenced, a);
            }
            a.ScansUnderLock = !notValid;
            if (!notValid)
                a.Warn(WarningLevel.Warning, "constraint-not-valid",
                    $"FOREIGN KEY without NOT VALID checks every row of {Sized(a, table)} while blocking writes to both tables: add it NOT VALID, then VALIDATE CONSTRAINT.");
            return;
        }
        a.Lock(table, LockMode.AccessExclusive);
        var usingIndex = x.Select((v, i) => v.Is("USING") && i + 1 < x.Count && x[i + 1].Is("INDEX")).Any(b => b);
        var indexAt = Index(x, "INDEX") + 1;
        if (usingIndex && ReadName(x, ref indexAt) is { } adopted)
            // The index becomes the constraint's; a primary key also marks it (and its columns) as such.
            a.IndexLock(adopted with { Schema = adopted.Schema ?? table.Schema }, x.Any(v => v.Is("PRIMARY")) ? LockMode.ShareUpdateExclusive : LockMode.AccessShare);
        if (x.Any(v => v.Is("PRIMARY") || v.Is("UNIQUE") || v.Is("EXCLUDE")) && !usingIndex)
        {
            a.ScansUnderLock = true;
            a.Warn(WarningLevel.Warning, "constraint-builds-index",
                $"this constraint builds its index on {Sized(a, table)} under ACCESS EXCLUSIVE: CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … USING INDEX.");
        }
        else if (x.Any(v => v.Is("CHECK")) && !notValid)
        {
            a.ScansUnderLock = true;
            a.Warn(WarningLevel.Warning, "constraint-not-valid",
                $"CHECK without NOT VALID scans all of {Sized(a, table)} under ACCESS EXCLUSIVE: add it NOT VALID, then VALIDATE CONSTRAINT (which lets reads and writes go on).");
        }
    }

    // CREATE [UNIQUE] INDEX [CONCURRENTLY] [[IF NOT EXISTS] name] ON [ONLY] table …
    private void CreateIndex(IReadOnlyList<SqlToken> t, Builder a)
    {
        var concurrently = t.Any(x => x.Is("CONCURRENTLY"));
        a.Kind = concurrently ? "CREATE INDEX CONCURRENTLY" : "CREATE INDEX";
        var at = Skip(t, 1, "UNIQUE") + 1;
        at = Skip(t, at, "CONCURRENTLY");
        at = Skip(t, at, "IF", "NOT", "EXISTS");
        DbObjectName? index = at >= t.Count || t[at].Is("ON") ? null : ReadName(t, ref at);
        at = Index(t, "ON") + 1;
        at = Skip(t, at, "ONLY");
        if (at <= 0 || ReadName(t, ref at) is not { } table)
            return;
        a.Lock(table, concurrently ? LockMode.ShareUpdateExclusive : LockMode.Share);
        // The build reads the whole table; without CONCURRENTLY, under a lock that stops its writers.
        a.ScansUnderLock = !concurrently;
        if (index is not null)
            a.Postconditions.Add(new IndexValid(index with { Schema = index.Schema ?? table.Schema }));
        else if (concurrently)
            a.Warn(WarningLevel.Warning, "unnamed-concurrent-index",
                "an unnamed CREATE INDEX CONCURRENTLY gets a generated name: an INVALID leftover of a failed build cannot be found and dropped by a re-run, and a re-run builds a second index. Name it.");
        if (!concurrently && !_created.Contains(table))
            a.Warn(WarningLevel.Warning, "index-not-concurrently",
                $"CREATE INDEX without CONCURRENTLY blocks writes to {Sized(a, table)} for the whole build: use CREATE INDEX CONCURRENTLY (outside a transaction block).");
    }

    private void DropIndex(IReadOnlyList<SqlToken> t, Builder a)
    {
        var concurrently = t.Any(x => x.Is("CONCURRENTLY"));
        a.Kind = concurrently ? "DROP INDEX CONCURRENTLY" : "DROP INDEX";
        var at = Skip(t, 2, "CONCURRENTLY");
        at = Skip(t, at, "IF", "EXISTS");
        while (at < t.Count && ReadName(t, ref at) is { } index)
        {
            a.Postconditions.Add(new IndexValid(index, Exists: false));
            // The table is not named: the lock is taken on the index and its table (the catalog names it; the executor looks it up).
            a.Lock(index, concurrently ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive);
            if (_facts.TableOfIndex(index) is { } owner)
                a.Lock(_facts.AsWritten(owner), concurrently ? LockMode.ShareUpdateExclusive : LockMode.AccessExclusive);
            if (at < t.Count && t[at].Value == ",") at++; else break;
        }
        if (!concurrently)
            a.Warn(WarningLevel.Warning, "drop-index-not-concurrently",
                "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table: use DROP INDEX CONCURRENTLY.");
    }

    // CREATE|ALTER|DROP POLICY [IF EXISTS] name ON table …
    private static void Policy(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = $"{t[0].Value} POLICY";
        var at = Skip(t, 2, "IF", "EXISTS");
        var name = at < t.Count ? Identifier(t[at]) : null;
        at = Index(t, "ON") + 1;
        if (at <= 0 || ReadName(t, ref at) is not { } table)
            return;
        a.Lock(table, LockMode.AccessExclusive);
        foreach (var source in ReadFrom(t, at))
            a.Lock(source, LockMode.AccessShare);   // a sub-select in its expression is read when the policy is created
        if (name is not null && !t[0].Is("ALTER"))
            a.Postconditions.Add(new PolicyExists(table, name, Exists: t[0].Is("CREATE")));
    }

    private static bool IsRoutine(IReadOnlyList<SqlToken> t, out int nameAt)
    {
        nameAt = 0;
        if (!t[0].Is("CREATE")) return false;
        var at = Skip(t, 1, "OR", "REPLACE");
        if (at < t.Count && (t[at].Is("FUNCTION") || t[at].Is("PROCEDURE")))
        {
            nameAt = at + 1;
            return true;
        }
        return false;
    }

    private static void Routine(IReadOnlyList<SqlToken> t, int at, Builder a)
    {
        a.Kind = $"CREATE {t[at - 1].Value}";
        // A LANGUAGE sql body is parsed when created: ACCESS SHARE on what it reads (plpgsql bodies are not).
        var language = Index(t, "LANGUAGE");
        if (language >= 0 && language + 1 < t.Count && t[language + 1].Value is "SQL" or "sql")
            foreach (var body in t.Where(x => x.Kind == SqlTokenKind.String))
            {
                IReadOnlyList<SqlToken> inner;
                try { inner = SqlLexer.Tokenize(body.Value); }
                catch (SqlLexer.SqlSyntaxException) { continue; }
                foreach (var source in ReadFrom(inner, 0))
                    a.Lock(source, LockMode.AccessShare);
            }
        if (ReadName(t, ref at) is { } name && at < t.Count && t[at].Value == "(")
            a.Postconditions.Add(new FunctionExists(name, CountArguments(t, at)));
    }

    private static void DropRoutine(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = $"DROP {t[1].Value}";
        var at = Skip(t, 2, "IF", "EXISTS");
        if (ReadName(t, ref at) is { } name && at < t.Count && t[at].Value == "(")
            a.Postconditions.Add(new FunctionExists(name, CountArguments(t, at), Exists: false));
    }

    // DO [LANGUAGE x] $$ body $$: the body's statements, and SQL held in its strings (EXECUTE '…'), say what it locks —
    // unless it EXECUTEs SQL built at run time, whose lock nobody can read from the text: then it fails safe.
    private void DoBlock(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = "DO block";
        a.Inferred = true;
        var dynamic = new List<string>();
        foreach (var body in t.Where(x => x.Kind == SqlTokenKind.String))
            InferFromBody(body.Value, a, depth: 0, dynamic);
        if (dynamic.Count == 0)
            return;
        var names = t.Where(x => x.Kind == SqlTokenKind.String).SelectMany(x => RelationsNamedIn(x.Value, depth: 0, anyNamedString: _facts.Known)).ToList();
        FailSafe(names, a,
            $"the DO block EXECUTEs SQL it builds at run time ({string.Join("; ", dynamic.Distinct())}), so ChatOps cannot read its lock");
    }

    /// <summary>
    /// Fail safe for a statement whose lock is not known: ACCESS EXCLUSIVE on each relation in <paramref name="names"/>
    /// (with the catalog, those that exist or the script created; without it, every candidate but the system catalogs'),
    /// with an <c>unknown-lock</c> finding that says <paramref name="why"/>.
    /// </summary>
    private void FailSafe(IEnumerable<DbObjectName> names, Builder a, string why)
    {
        var relations = names
            .Where(n => !(n.Schema is "pg_catalog" or "information_schema" || n.Schema is null && n.Name.StartsWith("pg_", StringComparison.Ordinal)))
            .Where(n => !_facts.Known || _facts.Exists(n) || _created.Contains(n))
            .Distinct().ToList();
        foreach (var name in relations)
            a.Lock(name, LockMode.AccessExclusive);
        a.Unknown = true;
        a.Warn(WarningLevel.Warning, "unknown-lock", a.Locks.Count == 0
            ? $"{why}, and it names no relation to assume ACCESS EXCLUSIVE on: the executor cannot wait for blockers before it (its ACCESS EXCLUSIVE " +
              "holds are measured from what the server grants). Write the statements out, or plan what it runs separately."
            : $"{why}: it is treated as ACCESS EXCLUSIVE on {string.Join(", ", a.Locks.Select(l => l.Table))} " +
              "— the executor waits for their users before running it, and its hold counts against the ACCESS EXCLUSIVE criterion. " +
              "Write the statements out, or plan what it runs separately.");
    }

    /// <summary>The relations a piece of SQL or plpgsql names where a relation goes (after TABLE, FROM, JOIN, UPDATE, INTO,
    /// ON, REFERENCES, LOCK …), and string literals that hold SQL naming one or are a name: cast to regclass
    /// (<c>'public.contacts'::regclass</c>), or — with <paramref name="anyNamedString"/>, when the catalog will weed out the
    /// column and constraint names — any (<c>format('ALTER TABLE %I …', 'contacts')</c>).</summary>
    private static IEnumerable<DbObjectName> RelationsNamedIn(string sql, int depth, bool anyNamedString)
    {
        IReadOnlyList<SqlToken> t;
        try { t = SqlLexer.Tokenize(sql); }
        catch (SqlLexer.SqlSyntaxException) { yield break; }
        for (var i = 0; i < t.Count; i++)
        {
            if (t[i].Kind == SqlTokenKind.String && depth < 2)
            {
                var regclass = i + 2 < t.Count && t[i + 1].Value == "::" && t[i + 2].Is("REGCLASS");
                if ((regclass || anyNamedString) && NameIn(t[i].Value) is { } whole)
                    yield return whole;
                foreach (var inner in RelationsNamedIn(t[i].Value, depth + 1, anyNamedString: false))
                    yield return inner;
            }
            if (t[i].Kind != SqlTokenKind.Word || !RelationPositionWords.Contains(t[i].Value))
                continue;
            var next = Skip(t, i + 1, "IF", "EXISTS");
            next = Skip(t, next, "TABLE");
            next = Skip(t, next, "ONLY");
            if (next < t.Count && t[next].Kind == SqlTokenKind.Word && NotANameWords.Contains(t[next].Value))
                continue;
            if (ReadName(t, ref next) is { } name && !(next < t.Count && t[next].Value == "("))
                yield return name;
        }
    }

    /// <summary>The name a string holds when it holds nothing else (<c>contacts</c>, <c>public.contacts</c>).</summary>
    private static DbObjectName? NameIn(string text)
    {
        IReadOnlyList<SqlToken> t;
        try { t = SqlLexer.Tokenize(text); }
        catch (SqlLexer.SqlSyntaxException) { return null; }
        var at = 0;
        return ReadName(t, ref at) is { } name && at == t.Count ? name : null;
    }

    private static readonly HashSet<string> RelationPositionWords = ["TABLE", "FROM", "JOIN", "UPDATE", "INTO", "ON", "REFERENCES", "LOCK", "TRUNCATE", "INDEX", "VIEW"];

    private void InferFromBody(string body, Builder a, int depth, List<string> dynamic)
    {
        IReadOnlyList<SqlToken> tokens;
        try
        {
            tokens = SqlLexer.Tokenize(body);
        }
        catch (SqlLexer.SqlSyntaxException)
        {
            return;   // a fragment of dynamic SQL; nothing reliable to read
        }
        var statement = new List<SqlToken>();
        void Flush()
        {
            // plpgsql puts statements after IF … THEN / ELSE / LOOP / BEGIN: start at the first SQL verb.
            var start = statement.FindIndex(IsDdlOrDmlStart);
            if (start >= 0 && Analyze(new SqlStatement(0, 0, "", statement.Skip(start).ToArray(), TransactionControl.None, null)) is var inner
                // A string that looks like SQL may be a fragment of a statement built elsewhere (EXECUTE says which are run).
                && !(depth > 0 && inner.LockUnknown))
                Merge(inner, a);
            // A query before it (IF EXISTS (SELECT …) THEN, PERFORM f(), x := (SELECT …)): what functions does it call?
            var query = statement.FindIndex(x => x.Is("SELECT") || x.Is("PERFORM") || x.Is("WITH"));
            if (query >= 0 && (start < 0 || query < start))
            {
                // PERFORM is plpgsql's SELECT that discards the result.
                var sql = statement.Skip(query).Take((start < 0 ? statement.Count : start) - query)
                    .Select(x => x.Is("PERFORM") ? x with { Value = "SELECT" } : x).ToArray();
                Merge(Analyze(new SqlStatement(0, 0, "", sql, TransactionControl.None, null)), a);
            }
            var execute = statement.FindIndex(x => x.Is("EXECUTE"));
            if (execute >= 0 && !(execute + 1 < statement.Count && (statement[execute + 1].Is("FUNCTION") || statement[execute + 1].Is("PROCEDURE"))))
                Execute(statement.Skip(execute + 1).TakeWhile(x => !x.Is("USING") && !x.Is("INTO")).ToList(), a, dynamic);
            statement.Clear();
        }
        foreach (var token in tokens)
        {
            if (token.Kind == SqlTokenKind.Semicolon) { Flush(); continue; }
            if (token.Kind == SqlTokenKind.String && depth < 2 && LooksLikeSql(token.Value))
                InferFromBody(token.Value, a, depth + 1, dynamic);
            statement.Add(token);
        }
        Flush();
    }

    private static void Merge(StatementAnalysis inner, Builder a)
    {
        foreach (var l in inner.Locks) a.Lock(l.Table, l.Mode);
        foreach (var l in inner.IndexLocks) a.IndexLock(l.Table, l.Mode);
        a.Rewrites |= inner.Rewrites;
        a.ScansUnderLock |= inner.ScansUnderLock;
        a.Unknown |= inner.LockUnknown;
        a.Warnings.AddRange(inner.Warnings);
    }

    // Placeholders of format(): an identifier or string put in at run time.
    private const string DynamicPart = "chatops_dynamic_part";

    /// <summary>
    /// EXECUTE's argument: a string literal is plain SQL (read by the caller); <c>format('…', …)</c> whose template puts its
    /// placeholders where no relation goes (a constraint's or a column's name, a value) is read with them filled in; any
    /// other expression (a variable, a concatenation, a template with a placeholder for a relation) is dynamic.
    /// </summary>
    private void Execute(IReadOnlyList<SqlToken> argument, Builder a, List<string> dynamic)
    {
        if (argument.Count == 1 && argument[0].Kind == SqlTokenKind.String)
        {
            try
            {
                var sql = argument[0].Value;
                Merge(Analyze(new SqlStatement(0, 0, sql, SqlLexer.Tokenize(sql), TransactionControl.None, null)), a);
            }
            catch (SqlLexer.SqlSyntaxException)
            {
                dynamic.Add("EXECUTE of a string that does not parse");
            }
            return;
        }
        var text = string.Join(' ', argument.Select(x => x.Kind == SqlTokenKind.String ? "'…'" : x.Value.ToLowerInvariant()));
        if (argument.Count > 3 && argument[0].Is("FORMAT") && argument[1].Value == "(" && argument[2].Kind == SqlTokenKind.String)
        {
            var template = System.Text.RegularExpressions.Regex.Replace(argument[2].Value, @"%(\d+\$)?-?([IsL])",
                m => m.Groups[2].Value == "L" ? "NULL" : DynamicPart);
            StatementAnalysis? inner = null;
            try
            {
                inner = Analyze(new SqlStatement(0, 0, template, SqlLexer.Tokenize(template), TransactionControl.None, null));
            }
            catch (SqlLexer.SqlSyntaxException)
            {
            }
            if (inner is not null && inner.Locks.Count > 0 && !inner.LockUnknown
                && !inner.Locks.Concat(inner.IndexLocks).Any(l => l.Table.Name.Contains(DynamicPart, StringComparison.Ordinal)
                                                                 || l.Table.Schema?.Contains(DynamicPart, StringComparison.Ordinal) == true))
            {
                Merge(inner, a);
                return;
            }
        }
        dynamic.Add("EXECUTE " + (text.Length > 60 ? text[..60] + "…" : text));
    }

    private static bool IsDdlOrDmlStart(SqlToken x) =>
        x.Kind == SqlTokenKind.Word && x.Value is "ALTER" or "CREATE" or "DROP" or "UPDATE" or "DELETE" or "INSERT" or "TRUNCATE" or "LOCK" or "ANALYZE" or "VACUUM";

    private static bool LooksLikeSql(string s)
    {
        var trimmed = s.TrimStart().ToUpperInvariant();
        return trimmed.StartsWith("ALTER TABLE", StringComparison.Ordinal) || trimmed.StartsWith("CREATE ", StringComparison.Ordinal)
            || trimmed.StartsWith("DROP ", StringComparison.Ordinal) || trimmed.StartsWith("UPDATE ", StringComparison.Ordinal)
            || trimmed.StartsWith("DELETE ", StringComparison.Ordinal) || trimmed.StartsWith("LOCK ", StringComparison.Ordinal);
    }

    private void Maintenance(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = t[0].Value;
        var full = t.Any(x => x.Is("FULL"));
        var at = 1;
        if (at < t.Count && t[at].Value == "(")
            while (at < t.Count && t[at].Value != ")") at++;
        if (at < t.Count && t[at].Value == ")") at++;
        while (at < t.Count && t[at].Kind == SqlTokenKind.Word && t[at].Value is "FULL" or "VERBOSE" or "ANALYZE" or "FREEZE") at++;
        while (at < t.Count && ReadName(t, ref at) is { } table)
        {
            a.Lock(table, full ? LockMode.AccessExclusive : LockMode.ShareUpdateExclusive);
            if (full)
                a.Rewrite(table);
            else if (t[0].Is("ANALYZE"))
                LockEachIndex(table, LockMode.AccessShare, a);   // statistics are gathered for expression indexes too
            if (at < t.Count && t[at].Value == "(")
                while (at < t.Count && t[at].Value != ")") at++;
            if (at < t.Count && t[at].Value == ")") at++;
            if (at < t.Count && t[at].Value == ",") at++; else break;
        }
        if (full)
        {
            a.Warn(WarningLevel.Warning, "vacuum-full", "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE: use pg_repack or pg_squeeze, or plain VACUUM.");
        }
    }

    private void CreateTable(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = "CREATE TABLE";
        var at = Skip(t, 2, "IF", "NOT", "EXISTS");
        if (ReadName(t, ref at) is { } table)
            _created.Add(table);
        for (var i = 0; i < t.Count; i++)
        {
            var next = i + 1;
            if (t[i].Is("REFERENCES") && ReadName(t, ref next) is { } referenced)
                a.Lock(referenced, LockMode.ShareRowExclusive);
            // A new partition locks its parent ACCESS EXCLUSIVE; a table inheriting, SHARE UPDATE EXCLUSIVE.
            var parentAt = i + 2;
            if (t[i].Is("PARTITION") && next < t.Count && t[next].Is("OF") && ReadName(t, ref parentAt) is { } parent)
                a.Lock(parent, LockMode.AccessExclusive);
            if (t[i].Is("INHERITS") && next < t.Count && t[next].Value == "(")
                for (next++; next < t.Count && ReadName(t, ref next) is { } inherited;)
                {
                    a.Lock(inherited, LockMode.ShareUpdateExclusive);
                    if (next < t.Count && t[next].Value == ",") next++; else break;
                }
        }
    }

    private static void TableLock(IReadOnlyList<SqlToken> t, int at, string kind, LockMode mode, Builder a, bool dataLoss)
    {
        a.Kind = kind;
        at = Skip(t, at, "IF", "EXISTS");
        at = Skip(t, at, "TABLE");
        at = Skip(t, at, "ONLY");
        while (at < t.Count && ReadName(t, ref at) is { } table)
        {
            a.Lock(table, mode);
            if (at < t.Count && t[at].Value == ",") at++; else break;
        }
        if (dataLoss)
            a.Warn(WarningLevel.Warning, "drop-data", $"{kind} destroys data: make sure a backup and the application agree.");
    }

    private static void LockTable(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = "LOCK TABLE";
        var inAt = Index(t, "IN");
        var mode = LockMode.AccessExclusive;
        if (inAt > 0)
        {
            var words = string.Join(' ', t.Skip(inAt + 1).TakeWhile(x => !x.Is("MODE")).Select(x => x.Value));
            mode = Enum.GetValues<LockMode>().FirstOrDefault(m => m.SqlName() == words, LockMode.AccessExclusive);
        }
        var at = Skip(t, 1, "TABLE");
        at = Skip(t, at, "ONLY");
        while (at < t.Count && ReadName(t, ref at) is { } table)
        {
            a.Lock(table, mode);
            if (at < t.Count && t[at].Value == "*") at++;
            if (at < t.Count && t[at].Value == ",") at = Skip(t, at + 1, "ONLY"); else break;
        }
    }

    private void Dml(IReadOnlyList<SqlToken> t, Builder a)
    {
        a.Kind = t[0].Value;
        var at = t[0].Is("UPDATE") ? 1 : 2;   // UPDATE x / DELETE FROM x / INSERT INTO x
        at = Skip(t, at, "ONLY");
        if (ReadName(t, ref at) is not { } table)
            return;
        a.Lock(table, LockMode.RowExclusive);
        // An INSERT checks its foreign keys: ROW SHARE on each referenced table and the unique index the check reads.
        if (t[0].Is("INSERT"))
            foreach (var key in _facts.KeysOn(table))
            {
                a.Lock(_facts.AsWritten(key.Referenced), LockMode.RowShare);
                if (key.KeyIndex is { } keyIndex)
                    a.IndexLock(_facts.AsWritten(keyIndex), LockMode.RowShare);
            }
        else
            LockEachIndex(table, LockMode.RowExclusive, a);   // UPDATE and DELETE are planned with the table's indexes
        if (t[0].Is("UPDATE") && Index(t, "WHERE") < 0 || t[0].Is("DELETE") && Index(t, "WHERE") < 0)
            a.Warn(WarningLevel.Warning, "unbatched-dml",
                $"{t[0].Value} without WHERE touches every row of {Sized(a, table)} in one transaction (row locks, WAL, bloat): backfill in batches, outside any DDL's transaction.");
    }

    private static void OnTable(IReadOnlyList<SqlToken> t, string kind, LockMode mode, Builder a)
    {
        a.Kind = kind;
        var at = Index(t, "ON") + 1;
        if (at > 0 && ReadName(t, ref at) is { } table)
            a.Lock(table, mode);
    }

    // ── token helpers ─────────────────────────────────────────────────────────────────────────────

    private static int Skip(IReadOnlyList<SqlToken> t, int at, params string[] words)
    {
        for (var i = 0; i < words.Length; i++)
            if (at + i >= t.Count || !t[at + i].Is(words[i])) return at;
        return at + words.Length;
    }

    private static int Index(IReadOnlyList<SqlToken> t, string word)
    {
        for (var i = 0; i < t.Count; i++)
            if (t[i].Is(word)) return i;
        return -1;
    }

    private static string? Identifier(SqlToken token) => token.Kind switch
    {
        SqlTokenKind.Word => token.Value.ToLowerInvariant(),
        SqlTokenKind.QuotedIdentifier => token.Value,
        _ => null,
    };

    /// <summary>Reads <c>name</c> or <c>schema.name</c> at <paramref name="at"/> and moves past it.</summary>
    private static DbObjectName? ReadName(IReadOnlyList<SqlToken> t, ref int at)
    {
        if (at >= t.Count || Identifier(t[at]) is not { } first) return null;
        if (at + 2 < t.Count && t[at + 1].Value == "." && Identifier(t[at + 2]) is { } second)
        {
            at += 3;
            return new DbObjectName(first, second);
        }
        at++;
        return new DbObjectName(null, first);
    }

    /// <summary>Comma-separated parts at parenthesis depth 0, from <paramref name="at"/> on.</summary>
    private static List<IReadOnlyList<SqlToken>> SplitTopLevel(IReadOnlyList<SqlToken> t, int at)
    {
        var parts = new List<IReadOnlyList<SqlToken>>();
        var current = new List<SqlToken>();
        var depth = 0;
        for (var i = at; i < t.Count; i++)
        {
            var v = t[i].Kind == SqlTokenKind.Symbol ? t[i].Value : "";
            if (v == "(") depth++;
            if (v == ")") depth--;
            if (v == "," && depth == 0)
            {
                if (current.Count > 0) parts.Add(current);
                current = [];
                continue;
            }
            current.Add(t[i]);
        }
        if (current.Count > 0) parts.Add(current);
        return parts;
    }

    private static int CountArguments(IReadOnlyList<SqlToken> t, int open)
    {
        var depth = 0;
        var commas = 0;
        var any = false;
        for (var i = open; i < t.Count; i++)
        {
            var v = t[i].Kind == SqlTokenKind.Symbol ? t[i].Value : "";
            if (v == "(") { depth++; continue; }
            if (v == ")") { if (--depth == 0) break; continue; }
            if (depth == 1 && v == ",") commas++;
            else if (depth == 1) any = true;
        }
        return any ? commas + 1 : 0;
    }

    private sealed class Builder(SqlStatement statement)
    {
        public string Kind = "";
        public readonly List<TableLock> Locks = [];
        public readonly List<TableLock> IndexLocks = [];
        // The tables it rewrites: each of their indexes is rebuilt under ACCESS EXCLUSIVE.
        public readonly List<DbObjectName> Rewritten = [];
        // The tables its work findings are about (named with their size).
        public readonly List<DbObjectName> WorkTables = [];
        public bool Rewrites;
        public bool ScansUnderLock;
        public bool CanRunInTransaction = true;
        public bool Inferred;
        public bool Unknown;
        public readonly List<Postcondition> Postconditions = [];
        public readonly List<PlanWarning> Warnings = [];

        public void Lock(DbObjectName table, LockMode mode)
        {
            var existing = Locks.FindIndex(l => l.Table == table);
            if (existing < 0) Locks.Add(new TableLock(table, mode));
            else if (Locks[existing].Mode < mode) Locks[existing] = new TableLock(table, mode);
        }

        public void IndexLock(DbObjectName index, LockMode mode)
        {
            var existing = IndexLocks.FindIndex(l => l.Table == index);
            if (existing < 0) IndexLocks.Add(new TableLock(index, mode));
            else if (IndexLocks[existing].Mode < mode) IndexLocks[existing] = new TableLock(index, mode);
        }

        public void Qualify(CatalogFacts facts)
        {
            for (var i = 0; i < Locks.Count; i++) Locks[i] = Locks[i] with { Table = facts.Qualify(Locks[i].Table) };
            for (var i = 0; i < IndexLocks.Count; i++) IndexLocks[i] = IndexLocks[i] with { Table = facts.Qualify(IndexLocks[i].Table) };
            for (var i = 0; i < Postconditions.Count; i++)
                Postconditions[i] = Postconditions[i] switch
                {
                    ColumnExists c => c with { Table = facts.Qualify(c.Table) },
                    ColumnNotNull c => c with { Table = facts.Qualify(c.Table) },
                    ColumnHasDefault c => c with { Table = facts.Qualify(c.Table) },
                    ConstraintExists c => c with { Table = facts.Qualify(c.Table) },
                    PolicyExists p => p with { Table = facts.Qualify(p.Table) },
                    IndexValid x => x with { Index = facts.Qualify(x.Index) },
                    var other => other,
                };
        }

        public void Rewrite(DbObjectName table)
        {
            Rewrites = true;
            if (!Rewritten.Contains(table)) Rewritten.Add(table);
        }

        public void Warn(WarningLevel level, string rule, string message) => Warnings.Add(new PlanWarning(level, rule, message));

        public StatementAnalysis Build() => new(statement, Kind, Locks, Rewrites, ScansUnderLock, CanRunInTransaction,
            Postconditions, Warnings.DistinctBy(w => (w.Rule, w.Message)).ToList(), Inferred, Unknown)
        {
            // An index also named in Locks (DROP INDEX, REINDEX INDEX) is claimed there.
            IndexLocks = IndexLocks.Where(i => !Locks.Any(l => l.Table == i.Table)).ToList(),
        };
    }
}
