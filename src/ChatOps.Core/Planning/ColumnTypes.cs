using System.Globalization;
using ChatOps.Core.Scripts;

namespace ChatOps.Core.Planning;

/// <summary>Which type changes PostgreSQL makes without rewriting the table (checked against the server in the lock-truth test).</summary>
public static class ColumnTypes
{
    /// <summary>
    /// True when changing a column of type <paramref name="current"/> (as <c>format_type</c> writes it) to the type written in
    /// <paramref name="target"/> keeps every stored value as it is: a longer or unbounded varchar, varchar ↔ text, a larger
    /// numeric precision at the same scale, or an unconstrained numeric.
    /// </summary>
    public static bool IsBinaryCompatibleWidening(string current, IReadOnlyList<SqlToken> target)
    {
        var (from, fromArgs) = Parse(SqlLexer.Tokenize(current));
        var (to, toArgs) = Parse(target);
        if (from is null || to is null)
            return false;
        return (from, to) switch
        {
            ("varchar", "varchar") => toArgs.Count == 0 || fromArgs.Count == 1 && toArgs.Count == 1 && toArgs[0] >= fromArgs[0],
            ("varchar", "text") => true,
            ("text", "varchar") => toArgs.Count == 0,
            ("text", "text") => true,
            ("numeric", "numeric") => toArgs.Count == 0
                || fromArgs.Count >= 1 && toArgs.Count >= 1 && toArgs[0] >= fromArgs[0] && Scale(fromArgs) == Scale(toArgs),
            _ => false,
        };
    }

    private static int Scale(IReadOnlyList<int> args) => args.Count > 1 ? args[1] : 0;

    /// <summary>The type's family (varchar, text, numeric, or null for any other) and its modifiers.</summary>
    private static (string? Family, IReadOnlyList<int> Args) Parse(IReadOnlyList<SqlToken> t)
    {
        var words = t.TakeWhile(x => x.Kind == SqlTokenKind.Word).Select(x => x.Value).ToList();
        var family = string.Join(' ', words) switch
        {
            "VARCHAR" or "CHARACTER VARYING" or "PG_CATALOG.VARCHAR" => "varchar",
            "TEXT" => "text",
            "NUMERIC" or "DECIMAL" => "numeric",
            _ => null,
        };
        var args = t.SkipWhile(x => x.Kind == SqlTokenKind.Word).TakeWhile(x => x.Value != ")")
            .Where(x => x.Kind == SqlTokenKind.Number).Select(x => int.Parse(x.Value, CultureInfo.InvariantCulture)).ToList();
        // An array or anything after the type (e.g. a default) makes it another type.
        var rest = t.SkipWhile(x => x.Kind == SqlTokenKind.Word).SkipWhile(x => x.Value != ")").Skip(1).ToList();
        if (rest.Count > 0 || t.Any(x => x.Value == "["))
            return (null, args);
        return (family, args);
    }
}
