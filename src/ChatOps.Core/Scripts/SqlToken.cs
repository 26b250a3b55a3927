namespace ChatOps.Core.Scripts;

/// <summary>What a token is; comments and whitespace produce no token.</summary>
public enum SqlTokenKind
{
    /// <summary>An unquoted keyword or identifier; <see cref="SqlToken.Value"/> is upper-cased.</summary>
    Word,
    /// <summary>A <c>"quoted identifier"</c>; <see cref="SqlToken.Value"/> is its name, unescaped.</summary>
    QuotedIdentifier,
    /// <summary>Any string literal: <c>'…'</c>, <c>E'…'</c>, <c>$tag$…$tag$</c>, <c>B'…'</c>, <c>X'…'</c>.</summary>
    String,
    Number,
    /// <summary>A parameter such as <c>$1</c>.</summary>
    Parameter,
    /// <summary>Punctuation and operators, one or more characters.</summary>
    Symbol,
    Semicolon,
}

/// <summary>A token of a SQL script, with where it stands in the script.</summary>
public readonly record struct SqlToken(SqlTokenKind Kind, string Value, int Start, int Length, int Line)
{
    public int End => Start + Length;

    /// <summary>True for an unquoted word equal to <paramref name="keyword"/> (upper case).</summary>
    public bool Is(string keyword) => Kind == SqlTokenKind.Word && Value == keyword;
}
