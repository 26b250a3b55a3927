namespace ChatOps.Core.Conversation;

/// <summary>Levenshtein distance and "did you mean" for short words typed by people.</summary>
internal static class EditDistance
{
    public static int Between(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>
    /// The candidate <paramref name="typed"/> most likely meant: the only one it is a prefix of (at least two
    /// characters typed), else the nearest within two edits (the first listed on a tie), else null.
    /// </summary>
    public static string? ClosestTo(string typed, IReadOnlyList<string> candidates)
    {
        typed = typed.ToLowerInvariant();
        if (typed.TrimStart('-').Length >= 2)
        {
            var extending = candidates.Where(c => c.StartsWith(typed, StringComparison.Ordinal)).Take(2).ToList();
            if (extending.Count == 1) return extending[0];
        }
        string? best = null;
        var bestDistance = 3;
        foreach (var candidate in candidates)
        {
            var distance = Between(typed, candidate);
            if (distance < bestDistance) (best, bestDistance) = (candidate, distance);
        }
        return best;
    }
}
