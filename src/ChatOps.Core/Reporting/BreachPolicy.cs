namespace ChatOps.Core.Reporting;

/// <summary><c>ChatOps:Thresholds:OnBreach</c>: what the bot does when a rollback trigger fires.</summary>
public enum BreachPolicy
{
    /// <summary>Post a rollback prompt: ⏪ by a permitted person rolls back; nobody within <c>ChatOps:Thresholds:AskTimeout</c> and the bot does. The default.</summary>
    Ask,
    /// <summary>Roll back at once, and say so.</summary>
    Rollback,
    /// <summary>Only tell; nothing happens by itself.</summary>
    Alert,
}

/// <summary>Reads <see cref="BreachPolicy"/> from configuration text.</summary>
public static class BreachPolicies
{
    public const string ConfigKey = "ChatOps:Thresholds:OnBreach";

    private static readonly string[] Names = ["ask", "rollback", "alert"];

    /// <summary>
    /// <c>ask</c>, <c>rollback</c> or <c>alert</c>, in any case; missing or blank is <see cref="BreachPolicy.Ask"/>. Otherwise false,
    /// with <paramref name="error"/> naming the key, the values and what each does.
    /// </summary>
    public static bool TryParse(string? text, out BreachPolicy policy, out string? error)
    {
        error = null;
        policy = BreachPolicy.Ask;
        var value = text?.Trim().ToLowerInvariant();
        switch (value)
        {
            case null or "" or "ask":
                return true;
            case "rollback":
                policy = BreachPolicy.Rollback;
                return true;
            case "alert":
                policy = BreachPolicy.Alert;
                return true;
        }
        var closest = Conversation.EditDistance.ClosestTo(value, Names);
        error = $"{ConfigKey} is \"{text}\"" + (closest is null ? "" : $" (did you mean \"{closest}\"?)") +
                ": use ask (post a rollback prompt; the default), rollback (roll back at once) or alert (only tell)";
        return false;
    }

    /// <summary>As <see cref="TryParse"/>, throwing <see cref="FormatException"/> with its error.</summary>
    public static BreachPolicy Parse(string? text) =>
        TryParse(text, out var policy, out var error) ? policy : throw new FormatException(error);
}
