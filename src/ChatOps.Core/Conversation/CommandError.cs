namespace ChatOps.Core.Conversation;

/// <summary>What was wrong with a <c>/migrate</c> command line.</summary>
public enum CommandErrorKind
{
    /// <summary>The first word is not a sub-command.</summary>
    UnknownSubCommand,
    /// <summary>A required argument (the migration name) is missing.</summary>
    MissingArgument,
    /// <summary>More arguments than the sub-command takes.</summary>
    ExtraArgument,
    /// <summary>An option no sub-command has.</summary>
    UnknownOption,
    /// <summary>An option another sub-command has, but not this one (<c>--confirm</c> on <c>start</c>).</summary>
    OptionNotAllowed,
    /// <summary>An option that takes a value was given none.</summary>
    MissingOptionValue,
    /// <summary>An option's value is malformed, or a flag was given a value.</summary>
    BadOptionValue,
    /// <summary>The same option twice.</summary>
    RepeatedOption,
    /// <summary>An argument where a deployment id (<c>D-n</c>) belongs is not one.</summary>
    BadDeploymentId,
    /// <summary>The migration name is refused by <see cref="Migrations.MigrationName.TryNormalize"/>.</summary>
    BadMigrationName,
}

/// <summary>
/// A command line that could not be parsed: a short, specific <see cref="Message"/>, what to type instead
/// (<see cref="Help"/>: the sub-command's usage line, or every sub-command's when the sub-command itself is
/// unknown) and, when one is close, a <see cref="Suggestion"/>. A value, never an exception.
/// </summary>
/// <param name="SubCommand">The sub-command the error is about, lower case; null when it is unknown.</param>
/// <param name="Suggestion">What the caller probably meant (<c>status</c>, <c>--target</c>, <c>D-3</c>), or null.</param>
public sealed record CommandError(
    CommandErrorKind Kind,
    string Message,
    string? SubCommand,
    string? Suggestion,
    IReadOnlyList<SubCommandUsage> Help)
{
    /// <summary>
    /// The error as plain text: the message (with "did you mean" when there is a suggestion), then the usage
    /// line, or every sub-command's line when the sub-command is unknown.
    /// </summary>
    public string ToPlainText()
    {
        var first = Suggestion is null ? Message : $"{Message} — did you mean `{Suggestion}`?";
        if (SubCommand is not null && Help.Count == 1)
            return $"{first}\nusage: {Help[0].Usage}";
        return $"{first}\n{MigrateGrammar.RenderPlainText(Help)}";
    }
}
