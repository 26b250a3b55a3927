namespace ChatOps.Core.Scripts;

/// <summary>
/// Splits SQL text into tokens the way PostgreSQL reads it: <c>'…'</c> with <c>''</c>, <c>E'…'</c> with
/// backslash escapes, <c>"…"</c>, <c>$tag$…$tag$</c>, <c>--</c> comments and nested <c>/* */</c> comments.
/// </summary>
public static class SqlLexer
{
    /// <summary>Thrown for an unterminated quote or comment, with the line where it starts (and the file, once known).</summary>
    public sealed class SqlSyntaxException(string message, int line, string? file = null) : Exception($"line {line}: {message}")
    {
        public int Line { get; } = line;

        /// <summary>What is wrong, without the line.</summary>
        public string Reason { get; } = message;

        /// <summary>The script's file, when the reader knew it.</summary>
        public string? File { get; } = file;
    }

    public static IReadOnlyList<SqlToken> Tokenize(string sql)
    {
        var tokens = new List<SqlToken>();
        var i = 0;
        var line = 1;

        while (i < sql.Length)
        {
            var c = sql[i];
            var startLine = line;

            if (c == '\n') { line++; i++; continue; }
            if (char.IsWhiteSpace(c)) { i++; continue; }

            if (c == '-' && Peek(sql, i + 1) == '-')
            {
                while (i < sql.Length && sql[i] != '\n') i++;
                continue;
            }
            if (c == '/' && Peek(sql, i + 1) == '*')
            {
                var depth = 0;
                while (true)
                {
                    if (i >= sql.Length) throw new SqlSyntaxException("unterminated /* comment", startLine);
                    if (sql[i] == '/' && Peek(sql, i + 1) == '*') { depth++; i += 2; continue; }
                    if (sql[i] == '*' && Peek(sql, i + 1) == '/') { depth--; i += 2; if (depth == 0) break; continue; }
                    if (sql[i] == '\n') line++;
                    i++;
                }
                continue;
            }
            if (c == ';')
            {
                tokens.Add(new SqlToken(SqlTokenKind.Semicolon, ";", i, 1, line));
                i++;
                continue;
            }
            if (c == '\'')
            {
                var end = QuotedEnd(sql, i, '\'', backslashEscapes: false, ref line, "string");
                tokens.Add(new SqlToken(SqlTokenKind.String, sql[(i + 1)..(end - 1)].Replace("''", "'"), i, end - i, startLine));
                i = end;
                continue;
            }
            if (c == '"')
            {
                var end = QuotedEnd(sql, i, '"', backslashEscapes: false, ref line, "quoted identifier");
                tokens.Add(new SqlToken(SqlTokenKind.QuotedIdentifier, sql[(i + 1)..(end - 1)].Replace("\"\"", "\""), i, end - i, startLine));
                i = end;
                continue;
            }
            if (c == '$')
            {
                if (char.IsAsciiDigit(Peek(sql, i + 1)))
                {
                    var j = i + 1;
                    while (j < sql.Length && char.IsAsciiDigit(sql[j])) j++;
                    tokens.Add(new SqlToken(SqlTokenKind.Parameter, sql[i..j], i, j - i, line));
                    i = j;
                    continue;
                }
                if (DollarTag(sql, i) is { } tag)
                {
                    var bodyStart = i + tag.Length;
                    var close = sql.IndexOf(tag, bodyStart, StringComparison.Ordinal);
                    if (close < 0) throw new SqlSyntaxException($"unterminated dollar-quoted string {tag}", startLine);
                    line += Count(sql, '\n', i, close + tag.Length);
                    tokens.Add(new SqlToken(SqlTokenKind.String, sql[bodyStart..close], i, close + tag.Length - i, startLine));
                    i = close + tag.Length;
                    continue;
                }
            }
            if (IsWordStart(c))
            {
                // E'…', B'…', X'…', U&'…' are literals, not words followed by strings.
                if ((c is 'E' or 'e') && Peek(sql, i + 1) == '\'')
                {
                    var end = QuotedEnd(sql, i + 1, '\'', backslashEscapes: true, ref line, "E'…' string");
                    tokens.Add(new SqlToken(SqlTokenKind.String, sql[(i + 2)..(end - 1)], i, end - i, startLine));
                    i = end;
                    continue;
                }
                if ((c is 'B' or 'b' or 'X' or 'x' or 'N' or 'n') && Peek(sql, i + 1) == '\'')
                {
                    var end = QuotedEnd(sql, i + 1, '\'', backslashEscapes: false, ref line, "string");
                    tokens.Add(new SqlToken(SqlTokenKind.String, sql[(i + 2)..(end - 1)], i, end - i, startLine));
                    i = end;
                    continue;
                }
                var j = i + 1;
                while (j < sql.Length && IsWordPart(sql[j])) j++;
                tokens.Add(new SqlToken(SqlTokenKind.Word, sql[i..j].ToUpperInvariant(), i, j - i, line));
                i = j;
                continue;
            }
            if (char.IsAsciiDigit(c) || (c == '.' && char.IsAsciiDigit(Peek(sql, i + 1))))
            {
                var j = i + 1;
                while (j < sql.Length && (char.IsAsciiLetterOrDigit(sql[j]) || sql[j] is '.' or '_')) j++;
                tokens.Add(new SqlToken(SqlTokenKind.Number, sql[i..j], i, j - i, line));
                i = j;
                continue;
            }

            // Operators: a run of operator characters; other punctuation one character at a time.
            if (IsOperatorChar(c))
            {
                var j = i + 1;
                while (j < sql.Length && IsOperatorChar(sql[j])
                       && !(sql[j] == '-' && Peek(sql, j + 1) == '-') && !(sql[j] == '/' && Peek(sql, j + 1) == '*')) j++;
                tokens.Add(new SqlToken(SqlTokenKind.Symbol, sql[i..j], i, j - i, line));
                i = j;
                continue;
            }
            tokens.Add(new SqlToken(SqlTokenKind.Symbol, c.ToString(), i, 1, line));
            i++;
        }
        return tokens;
    }

    private static int QuotedEnd(string sql, int open, char quote, bool backslashEscapes, ref int line, string what)
    {
        var startLine = line;
        var i = open + 1;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '\n') line++;
            if (backslashEscapes && c == '\\') { i += 2; continue; }
            if (c == quote)
            {
                if (Peek(sql, i + 1) == quote) { i += 2; continue; }
                return i + 1;
            }
            i++;
        }
        throw new SqlSyntaxException($"unterminated {what}", startLine);
    }

    /// <summary>The <c>$tag$</c> opening at <paramref name="i"/>, or null when <c>$</c> starts no dollar quote.</summary>
    private static string? DollarTag(string sql, int i)
    {
        var j = i + 1;
        if (j < sql.Length && sql[j] == '$') return "$$";
        if (j >= sql.Length || !IsWordStart(sql[j])) return null;
        while (j < sql.Length && (char.IsAsciiLetterOrDigit(sql[j]) || sql[j] == '_' || sql[j] > 127)) j++;
        return j < sql.Length && sql[j] == '$' ? sql[i..(j + 1)] : null;
    }

    private static bool IsWordStart(char c) => char.IsAsciiLetter(c) || c == '_' || c > 127;
    private static bool IsWordPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '$' || c > 127;
    private static bool IsOperatorChar(char c) => "+-*/<>=~!@#%^&|`?".Contains(c);
    private static char Peek(string s, int i) => i < s.Length ? s[i] : '\0';

    private static int Count(string s, char c, int from, int to)
    {
        var n = 0;
        for (var i = from; i < to; i++)
            if (s[i] == c) n++;
        return n;
    }
}
