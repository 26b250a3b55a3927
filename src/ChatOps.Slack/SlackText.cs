using System.Text;

namespace ChatOps.Slack;

/// <summary>Slack's text rules: three characters escaped in <c>mrkdwn</c>, and length limits cut without breaking anything.</summary>
internal static class SlackText
{
    private const string Ellipsis = "…";

    /// <summary><c>&amp;</c>, <c>&lt;</c> and <c>&gt;</c> as entities, so text from people cannot read as a link or a mention.</summary>
    public static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>
    /// At most <paramref name="max"/> characters, ending in … when cut: never inside a surrogate pair, an entity
    /// (<c>&amp;amp;</c>) or a mention (<c>&lt;@U1&gt;</c>).
    /// </summary>
    public static string Truncate(string text, int max)
    {
        if (text.Length <= max)
            return text;
        var cut = max - Ellipsis.Length;
        if (cut > 0 && char.IsHighSurrogate(text[cut - 1]))
            cut--;
        var entity = text.LastIndexOf('&', cut - 1);
        if (entity >= 0 && text.IndexOf(';', entity) is var end && (end < 0 || end >= cut) && cut - entity <= 5)
            cut = entity;
        var token = text.LastIndexOf('<', cut - 1);
        if (token >= 0 && text.IndexOf('>', token) is var close && (close < 0 || close >= cut))
            cut = token;
        return text[..cut].TrimEnd() + Ellipsis;
    }

    /// <summary>
    /// Lines joined with <c>\n</c> into chunks of at most <paramref name="max"/> characters each (a longer line is cut), so a
    /// long checklist becomes several sections rather than a rejected message.
    /// </summary>
    public static IReadOnlyList<string> Chunks(IEnumerable<string> lines, int max)
    {
        var chunks = new List<string>();
        var current = new StringBuilder();
        foreach (var raw in lines)
        {
            var line = Truncate(raw, max);
            if (current.Length > 0 && current.Length + 1 + line.Length > max)
            {
                chunks.Add(current.ToString());
                current.Clear();
            }
            if (current.Length > 0)
                current.Append('\n');
            current.Append(line);
        }
        if (current.Length > 0)
            chunks.Add(current.ToString());
        return chunks;
    }
}
