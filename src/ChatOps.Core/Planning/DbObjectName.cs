namespace ChatOps.Core.Planning;

/// <summary>A possibly schema-qualified name as PostgreSQL folds it (unquoted parts lower-cased).</summary>
public sealed record DbObjectName(string? Schema, string Name)
{
    /// <summary><c>schema.name</c>, each part quoted when it needs to be — usable in SQL and <c>::regclass</c>.</summary>
    public override string ToString() => Schema is null ? Quote(Name) : $"{Quote(Schema)}.{Quote(Name)}";

    private static string Quote(string part) =>
        part.Length > 0 && part.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') && !char.IsAsciiDigit(part[0])
            ? part
            : "\"" + part.Replace("\"", "\"\"") + "\"";
}
