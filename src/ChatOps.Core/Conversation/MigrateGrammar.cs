using System.Text.RegularExpressions;
using ChatOps.Core.Migrations;

namespace ChatOps.Core.Conversation;

/// <summary>
/// The <c>/migrate</c> grammar, one for every platform: reads the text after the slash command (what Slack
/// sends) or the whole line (what the local channel reads) into a <see cref="MigrateCommand"/>, or a
/// <see cref="CommandError"/> saying what to type instead. Pure: no I/O, no platform types.
/// </summary>
public static partial class MigrateGrammar
{
    /// <summary>The slash command itself.</summary>
    public const string SlashCommand = "/migrate";

    /// <summary>Said under the help lines: how a missing <c>D-n</c> is resolved.</summary>
    public const string DeploymentIdNote = "D-n may be left out when the channel has exactly one active deployment.";

    private const string TargetOption = "--target";
    private const string ConfirmOption = "--confirm";
    private const string WindowOption = "--window";
    private const int EchoLimit = 40;

    private enum Argument { None, Migration, OptionalDeployment }

    private sealed record Rule(SubCommandUsage Usage, Argument Argument, IReadOnlyList<string> Options);

    private static readonly Rule[] Rules =
    [
        new(new("help", "/migrate help", "the sub-commands, one line each"), Argument.None, []),
        new(new("list", "/migrate list", "the migrations, with their last deployment's state"), Argument.None, []),
        new(new("plan", "/migrate plan <migration>", "the executor's plan: locks, warnings, notes"), Argument.Migration, []),
        new(new("start", "/migrate start <migration> [--target <name>] [--window]",
            "a new deployment D-n and its card for sign-off (--window: run it in the next maintenance window)"), Argument.Migration, [TargetOption, WindowOption]),
        new(new("status", "/migrate status [D-n]", "the deployment's current status"), Argument.OptionalDeployment, []),
        new(new("approve", "/migrate approve [D-n]", "sign off your role, as the sign-off reaction does"), Argument.OptionalDeployment, []),
        new(new("revoke", "/migrate revoke [D-n]", "withdraw your sign-off, as removing the reaction does"), Argument.OptionalDeployment, []),
        new(new("pause", "/migrate pause [D-n]", "pause at the next statement boundary or before the next phase"), Argument.OptionalDeployment, []),
        new(new("resume", "/migrate resume [D-n]", "continue a paused deployment"), Argument.OptionalDeployment, []),
        new(new("rollback", "/migrate rollback [D-n] [--confirm]", "roll the deployment back (asks to confirm unless --confirm)"), Argument.OptionalDeployment, [ConfirmOption]),
        new(new("abort", "/migrate abort [D-n]", "stop the forward run at the next statement boundary, without rolling back"), Argument.OptionalDeployment, []),
        new(new("history", "/migrate history [D-n]", "the deployment's audit trail, most recent first"), Argument.OptionalDeployment, []),
    ];

    private static readonly string[] SubCommandNames = [.. Rules.Select(r => r.Usage.Name)];
    private static readonly string[] AllOptions = [TargetOption, ConfirmOption, WindowOption];

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex TargetName();

    /// <summary>Every sub-command, in the order help lists them.</summary>
    public static IReadOnlyList<SubCommandUsage> SubCommands { get; } = [.. Rules.Select(r => r.Usage)];

    /// <summary>The help lines as plain text: aligned usages and summaries, then <see cref="DeploymentIdNote"/>.</summary>
    public static string HelpAsPlainText() => RenderPlainText(SubCommands) + "\n" + DeploymentIdNote;

    /// <summary>Help lines as plain text, one a line, the summaries aligned.</summary>
    public static string RenderPlainText(IReadOnlyList<SubCommandUsage> lines)
    {
        var width = lines.Count == 0 ? 0 : lines.Max(l => l.Usage.Length);
        return string.Join('\n', lines.Select(l => l.ToPlainText(width)));
    }

    /// <summary>
    /// Reads a command line, with or without a leading <c>/migrate</c>. Sub-commands and options are
    /// case-insensitive, any whitespace separates words, options may come before or after the argument, and
    /// an empty line is <c>help</c>. Never throws on user input.
    /// </summary>
    public static ParsedCommand Parse(string? text)
    {
        var words = (text ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var start = words.Length > 0 && words[0].Equals(SlashCommand, StringComparison.OrdinalIgnoreCase) ? 1 : 0;
        if (words.Length == start)
            return new MigrateCommand.Help();

        var typed = words[start];
        var rule = Array.Find(Rules, r => r.Usage.Name.Equals(typed, StringComparison.OrdinalIgnoreCase));
        if (rule is null)
            return new CommandError(
                CommandErrorKind.UnknownSubCommand,
                $"{Quote(typed)} is not a /migrate sub-command",
                SubCommand: null,
                EditDistance.ClosestTo(typed, SubCommandNames),
                SubCommands);

        var positional = new List<string>();
        string? target = null;
        var confirmed = false;
        var window = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = start + 1; i < words.Length; i++)
        {
            var word = WithAsciiDashes(words[i]);
            if (!IsOption(word))
            {
                positional.Add(word);
                continue;
            }

            var equals = word.IndexOf('=');
            var option = (equals < 0 ? word : word[..equals]).ToLowerInvariant();
            string? value = equals < 0 ? null : word[(equals + 1)..];

            if (!AllOptions.Contains(option))
                return Error(rule, CommandErrorKind.UnknownOption,
                    rule.Options.Count == 0
                        ? $"`{rule.Usage.Name}` takes no options, and {Quote(option)} is not one"
                        : $"{Quote(option)} is not an option of `{rule.Usage.Name}`",
                    EditDistance.ClosestTo(option, rule.Options.Count > 0 ? rule.Options : AllOptions));
            if (!rule.Options.Contains(option))
                return Error(rule, CommandErrorKind.OptionNotAllowed,
                    $"`{option}` is not an option of `{rule.Usage.Name}` (it belongs to `{Rules.First(r => r.Options.Contains(option)).Usage.Name}`)");
            if (!seen.Add(option))
                return Error(rule, CommandErrorKind.RepeatedOption, $"`{option}` is given twice");

            if (option == ConfirmOption)
            {
                if (value is not null)
                    return Error(rule, CommandErrorKind.BadOptionValue, $"`{ConfirmOption}` takes no value");
                confirmed = true;
            }
            else if (option == WindowOption)
            {
                if (value is not null)
                    return Error(rule, CommandErrorKind.BadOptionValue, $"`{WindowOption}` takes no value");
                window = true;
            }
            else if (option == TargetOption)
            {
                // "--target prod" takes the next word, unless that is another option: then the value is missing.
                if (value is null && i + 1 < words.Length && !IsOption(WithAsciiDashes(words[i + 1])))
                    value = words[++i];
                if (string.IsNullOrEmpty(value))
                    return Error(rule, CommandErrorKind.MissingOptionValue, $"`{TargetOption}` needs a target name, e.g. `{TargetOption} staging`");
                if (!TargetName().IsMatch(value))
                    return Error(rule, CommandErrorKind.BadOptionValue,
                        $"{Quote(value)} is not a target name: use only letters, digits, '_' and '-'");
                target = value;
            }
        }

        return rule.Argument switch
        {
            Argument.None => positional.Count > 0
                ? Error(rule, CommandErrorKind.ExtraArgument, $"`{rule.Usage.Name}` takes no arguments, but got {Quote(positional[0])}")
                : Build(rule.Usage.Name),
            Argument.Migration => MigrationCommand(rule, positional, target, window),
            _ => DeploymentCommand(rule, positional, confirmed),
        };
    }

    private static ParsedCommand MigrationCommand(Rule rule, List<string> positional, string? target, bool window)
    {
        if (positional.Count == 0)
            return Error(rule, CommandErrorKind.MissingArgument, $"`{rule.Usage.Name}` needs a migration name");
        if (positional.Count > 1)
            return Error(rule, CommandErrorKind.ExtraArgument,
                $"`{rule.Usage.Name}` takes one migration name, but got another: {Quote(positional[1])}");
        if (!MigrationName.TryNormalize(positional[0], out var migration, out var why))
            return Error(rule, CommandErrorKind.BadMigrationName, Truncate(why, EchoLimit * 3));
        return rule.Usage.Name == "plan" ? new MigrateCommand.Plan(migration) : new MigrateCommand.Start(migration, target, window);
    }

    private static ParsedCommand DeploymentCommand(Rule rule, List<string> positional, bool confirmed)
    {
        if (positional.Count > 1)
            return Error(rule, CommandErrorKind.ExtraArgument,
                $"`{rule.Usage.Name}` takes at most one deployment id, but got another: {Quote(positional[1])}");
        DeploymentId? deployment = null;
        if (positional.Count == 1)
        {
            if (!DeploymentId.TryParse(positional[0], out var id))
            {
                // A bare number is almost certainly the deployment's number without its "D-".
                var suggestion = int.TryParse(positional[0], System.Globalization.NumberStyles.None, null, out var n) && n > 0
                    ? new DeploymentId(n).ToString()
                    : null;
                return Error(rule, CommandErrorKind.BadDeploymentId,
                    $"{Quote(positional[0])} is not a deployment id: write D-<number>, e.g. D-3", suggestion);
            }
            deployment = id;
        }
        return rule.Usage.Name switch
        {
            "status" => new MigrateCommand.Status(deployment),
            "approve" => new MigrateCommand.Approve(deployment),
            "revoke" => new MigrateCommand.Revoke(deployment),
            "pause" => new MigrateCommand.Pause(deployment),
            "resume" => new MigrateCommand.Resume(deployment),
            "rollback" => new MigrateCommand.Rollback(deployment, confirmed),
            "abort" => new MigrateCommand.Abort(deployment),
            "history" => new MigrateCommand.History(deployment),
            var name => throw new InvalidOperationException($"no command for the rule '{name}'"),
        };
    }

    private static MigrateCommand Build(string name) => name switch
    {
        "help" => new MigrateCommand.Help(),
        "list" => new MigrateCommand.List(),
        _ => throw new InvalidOperationException($"no command for the rule '{name}'"),
    };

    private static CommandError Error(Rule rule, CommandErrorKind kind, string message, string? suggestion = null) =>
        new(kind, message, rule.Usage.Name, suggestion, [rule.Usage]);

    private static bool IsOption(string word) => word.Length > 1 && word[0] == '-';

    /// <summary>
    /// Chat clients (macOS and iOS in particular) turn a typed "--" into an em or en dash; read "—target" as "--target".
    /// </summary>
    private static string WithAsciiDashes(string word) =>
        word.Length > 1 && word[0] is '\u2014' or '\u2013' ? "--" + word[1..] : word;

    /// <summary>User input echoed in a reply: in backticks, none inside, and not too long.</summary>
    private static string Quote(string word) => $"`{Truncate(word.Replace('`', '\''), EchoLimit)}`";

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
