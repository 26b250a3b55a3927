namespace ChatOps.Core.Planning;

/// <summary>A possibly schema-qualified name as PostgreSQL folds it (unquoted parts lower-cased).</summary>
public sealed record DbObjectName(string? Schema, string Name)
{
    /// <summary><c>schema.name</c>, each part quoted when it needs to be — usable in SQL and <c>::regclass</c>.</summary>
    public override string ToString() => Schema is null ? Quote(Name) : $"{Quote(Schema)}.{Quote(Name)}";

    /// <summary>Reads <c>schema.name</c> or <c>name</c> as PostgreSQL would (unquoted parts folded to lower case).</summary>
    public static DbObjectName Parse(string text)
    {
        var tokens = Scripts.SqlLexer.Tokenize(text).Where(t => t.Kind is Scripts.SqlTokenKind.Word or Scripts.SqlTokenKind.QuotedIdentifier).ToList();
        string Part(Scripts.SqlToken t) => t.Kind == Scripts.SqlTokenKind.Word ? t.Value.ToLowerInvariant() : t.Value;
        return tokens.Count switch
        {
            1 => new DbObjectName(null, Part(tokens[0])),
            2 => new DbObjectName(Part(tokens[0]), Part(tokens[1])),
            _ => throw new FormatException($"'{text}' is not a table name (schema.table)"),
        };
    }

    private static string Quote(string part) =>
        part.Length > 0 && part.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') && !char.IsAsciiDigit(part[0])
            ? part
            : "\"" + part.Replace("\"", "\"\"") + "\"";
}
