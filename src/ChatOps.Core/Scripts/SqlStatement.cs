namespace ChatOps.Core.Scripts;

/// <summary>How a statement relates to the script's explicit transaction blocks.</summary>
public enum TransactionControl
{
    None,
    /// <summary><c>BEGIN</c> or <c>START TRANSACTION</c>.</summary>
    Begin,
    /// <summary><c>COMMIT</c> or <c>END</c>.</summary>
    Commit,
    /// <summary><c>ROLLBACK</c> (not <c>ROLLBACK TO SAVEPOINT</c>).</summary>
    Rollback,
}

/// <summary>One statement of a script: its exact text (without the closing <c>;</c>) and where it starts.</summary>
/// <param name="Number">1-based position in the script.</param>
/// <param name="Line">1-based line of its first token.</param>
/// <param name="Text">The statement as written, from its first token to its last.</param>
/// <param name="Tokens">Its tokens (comments excluded), positions relative to the script.</param>
/// <param name="Transaction">Whether it opens or closes an explicit transaction block.</param>
/// <param name="Block">The transaction block it belongs to (1-based, counting blocks), or null outside one.
/// A block's <c>BEGIN</c> and <c>COMMIT</c> belong to it too.</param>
public sealed record SqlStatement(int Number, int Line, string Text, [property: System.Text.Json.Serialization.JsonIgnore] IReadOnlyList<SqlToken> Tokens, TransactionControl Transaction, int? Block)
{
    /// <summary><c>CREATE INDEX CONCURRENTLY</c>, <c>DROP INDEX CONCURRENTLY</c>, <c>REINDEX … CONCURRENTLY</c>,
    /// <c>DETACH PARTITION … CONCURRENTLY</c>: cannot run in a transaction block, wait for older transactions by design.</summary>
    public bool IsConcurrently =>
        (StartsWith("CREATE") || StartsWith("DROP") || StartsWith("REINDEX") || StartsWith("ALTER"))
        && Tokens.Any(t => t.Is("CONCURRENTLY"));

    /// <summary><c>VACUUM</c>: cannot run in a transaction block.</summary>
    public bool IsVacuum => StartsWith("VACUUM");

    /// <summary>Must run alone, in autocommit, outside any transaction block.</summary>
    public bool RequiresAutocommit => IsConcurrently || IsVacuum;

    /// <summary>True when the statement's leading words are <paramref name="words"/> (upper case).</summary>
    public bool StartsWith(params string[] words)
    {
        if (Tokens.Count < words.Length) return false;
        for (var i = 0; i < words.Length; i++)
            if (!Tokens[i].Is(words[i])) return false;
        return true;
    }

    /// <summary>The text on one line, whitespace collapsed, cut at <paramref name="max"/> characters — for people.</summary>
    public string Summary(int max = 120)
    {
        var flat = string.Join(' ', Text.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
        return flat.Length <= max ? flat : flat[..(max - 1)] + "…";
    }
}
