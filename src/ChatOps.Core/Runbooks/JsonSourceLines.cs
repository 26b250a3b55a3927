using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ChatOps.Core.Runbooks;

/// <summary>
/// The line of a JSON text where a <c>$.a[0].b</c> path starts — so an error found after parsing (a value of the wrong
/// type) can point into the file a person edits, not into some re-serialized copy.
/// </summary>
internal static partial class JsonSourceLines
{
    /// <summary>The line (1-based) of <paramref name="path"/>'s property name or array element; of its deepest
    /// existing ancestor when the path is not there; 1 for <c>$</c>.</summary>
    public static int LineOf(string json, string path)
    {
        var target = Segments(path);
        var bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var frames = new Stack<(List<object> Base, bool IsArray, int Index)>();
        var current = new List<object>();
        var (bestDepth, bestLine) = (-1, 1);
        try
        {
            while (reader.Read())
            {
                var token = reader.TokenType;
                if (token is JsonTokenType.EndObject or JsonTokenType.EndArray)
                {
                    frames.Pop();
                    continue;
                }
                var located = false;
                if (token == JsonTokenType.PropertyName)
                {
                    current = [.. frames.Peek().Base, reader.GetString()!];
                    located = true;
                }
                else if (frames.Count > 0 && frames.Peek().IsArray)
                {
                    var frame = frames.Pop();
                    frames.Push(frame with { Index = frame.Index + 1 });
                    current = [.. frame.Base, frame.Index + 1];
                    located = true;
                }
                else if (frames.Count == 0)
                {
                    current = [];
                    located = true;
                }
                if (located && Matches(current, target) && current.Count > bestDepth)
                {
                    (bestDepth, bestLine) = (current.Count, 1 + bytes.AsSpan(0, (int)reader.TokenStartIndex).Count((byte)'\n'));
                    if (bestDepth == target.Count)
                        return bestLine;
                }
                if (token is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    frames.Push(([.. current], token == JsonTokenType.StartArray, -1));
            }
        }
        catch (JsonException)
        {
            // Malformed after the point of interest: what was found so far stands.
        }
        return bestLine;
    }

    private static bool Matches(List<object> current, List<object> target) =>
        current.Count <= target.Count && current.Select((s, i) => s switch
        {
            string name => target[i] is string t && string.Equals(name, t, StringComparison.OrdinalIgnoreCase),
            int index => target[i] is int t && index == t,
            _ => false,
        }).All(x => x);

    public static List<object> Segments(string path)
    {
        var segments = new List<object>();
        foreach (Match m in PathSegment().Matches(path))
        {
            if (m.Groups["dot"].Success) segments.Add(m.Groups["dot"].Value);
            else if (m.Groups["quoted"].Success) segments.Add(m.Groups["quoted"].Value.Replace("''", "'"));
            else segments.Add(int.Parse(m.Groups["index"].Value, CultureInfo.InvariantCulture));
        }
        return segments;
    }

    [GeneratedRegex(@"\.(?<dot>[^.\[]+)|\['(?<quoted>(?:[^']|'')*)'\]|\[(?<index>\d+)\]")]
    private static partial Regex PathSegment();
}
