using System.Text;

namespace ChatOps.Core.Execution;

/// <summary>
/// Makes another session's query fit to post in chat: string, numeric and dollar-quoted literals become
/// <c>?</c> (they may hold personal data), whitespace collapses, and the text is cut to a length.
/// Tolerant of the truncated text <c>pg_stat_activity</c> gives.
/// </summary>
public static class QueryText
{
    public static string Redact(string? query, int max = 200)
    {
        if (string.IsNullOrWhiteSpace(query)) return "(no query)";
        var s = query;
        var output = new StringBuilder(Math.Min(s.Length, max + 16));
        var i = 0;
        while (i < s.Length && output.Length <= max)
        {
            var c = s[i];
            if (c == '\'' || ((c is 'E' or 'e') && i + 1 < s.Length && s[i + 1] == '\'' && (i == 0 || !IsWord(s[i - 1]))))
            {
                var escapes = c != '\'';
                i += escapes ? 2 : 1;
                while (i < s.Length)
                {
                    if (escapes && s[i] == '\\') { i += 2; continue; }
                    if (s[i] == '\'' && i + 1 < s.Length && s[i + 1] == '\'') { i += 2; continue; }
                    if (s[i] == '\'') { i++; break; }
                    i++;
                }
                output.Append('?');
                continue;
            }
            if (c == '$' && DollarTag(s, i) is { } tag)
            {
                var close = s.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                i = close < 0 ? s.Length : close + tag.Length;
                output.Append('?');
                continue;
            }
            if (char.IsAsciiDigit(c) && (i == 0 || !IsWord(s[i - 1])))
            {
                while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '.')) i++;
                output.Append('?');
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (output.Length > 0) output.Append(' ');
                continue;
            }
            output.Append(c);
            i++;
        }
        var text = output.ToString().Trim();
        return text.Length > max || i < s.Length ? text[..Math.Min(text.Length, max)].TrimEnd() + "…" : text;
    }

    private static bool IsWord(char c) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '$';

    private static string? DollarTag(string s, int i)
    {
        var j = i + 1;
        while (j < s.Length && (char.IsAsciiLetterOrDigit(s[j]) || s[j] == '_')) j++;
        if (j < s.Length && s[j] == '$' && (j == i + 1 || !char.IsAsciiDigit(s[i + 1])))
            return s[i..(j + 1)];
        return null;
    }
}
