namespace ChatOps.Bot.Cli;

/// <summary>
/// Takes anything that could be part of a connection string out of a message nobody wrote for people — an unexpected
/// exception's, which may quote a fragment of it (Npgsql's parse errors do, lower-cased).
/// </summary>
public static class SecretText
{
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "host", "port", "database", "username", "user", "password", "postgres", "postgresql", "sslmode", "localhost", "timeout",
    };

    /// <summary><paramref name="text"/> with every fragment (4 characters or more, any case) of <paramref name="secrets"/> replaced by <c>***</c>.</summary>
    public static string Redact(string text, IEnumerable<string?> secrets)
    {
        var fragments = secrets
            .Where(s => !string.IsNullOrEmpty(s))
            .SelectMany(s => new[] { s!, Decoded(s!) })
            .SelectMany(s => s.Split([';', '=', ':', '@', '/', '?', '&', ',', ' ', '"', '\''], StringSplitOptions.RemoveEmptyEntries)
                // key=value pairs whole and their values: an unquoted ';' or '=' in a password makes odd pairs.
                .Concat(s.Split(';').SelectMany(pair => new[] { pair, pair[(pair.IndexOf('=') + 1)..] }))
                .Prepend(s))
            .Where(f => f.Length >= 4 && !Keywords.Contains(f))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .OrderByDescending(f => f.Length);
        foreach (var fragment in fragments)
            text = text.Replace(fragment, "***", StringComparison.OrdinalIgnoreCase);
        return text;
    }

    /// <summary>What this process was given that may hold a password: <c>--target</c> and <c>--connection</c> values,
    /// <c>ConnectionStrings__Target</c>, <c>PGPASSWORD</c>.</summary>
    public static IEnumerable<string?> OfThisProcess()
    {
        var args = Environment.GetCommandLineArgs();
        for (var i = 0; i < args.Length; i++)
        {
            foreach (var option in (string[])["--target", "--connection"])
            {
                if (args[i] == option && i + 1 < args.Length)
                    yield return args[i + 1];
                else if (args[i].StartsWith(option + "=", StringComparison.Ordinal))
                    yield return args[i][(option.Length + 1)..];
            }
        }
        yield return Environment.GetEnvironmentVariable("ConnectionStrings__Target");
        yield return Environment.GetEnvironmentVariable("PGPASSWORD");
    }

    private static string Decoded(string s)
    {
        try
        {
            return Uri.UnescapeDataString(s);
        }
        catch (UriFormatException)
        {
            return s;
        }
    }
}
