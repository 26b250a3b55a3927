using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChatOps.Core.Conversation;

namespace ChatOps.Discord.Interactions;

/// <summary>One typed option of a <c>/migrate</c> sub-command, as registered with Discord.</summary>
/// <param name="Type">Discord's option type: 3 STRING, 5 BOOLEAN.</param>
/// <param name="Flag">The grammar's flag (<c>--target</c>), or null for the positional argument.</param>
public sealed record SubCommandOption(string Name, int Type, string Description, bool Required, string? Flag);

/// <summary>A <c>/migrate</c> sub-command with its options.</summary>
public sealed record SubCommandDefinition(string Name, string Description, IReadOnlyList<SubCommandOption> Options);

/// <summary>
/// The <c>/migrate</c> slash command, read from <see cref="MigrateGrammar.SubCommands"/> so the registered command
/// follows the grammar: <c>&lt;migration&gt;</c> becomes a required string, <c>[D-n]</c> an optional string
/// <c>deployment</c>, <c>[--flag &lt;value&gt;]</c> a string option and <c>[--flag]</c> a boolean.
/// </summary>
public static partial class MigrateCommandDefinition
{
    /// <summary>The command's name as Discord shows it.</summary>
    public const string Name = "migrate";

    public const int StringOption = 3;
    public const int BooleanOption = 5;
    private const int SubCommandType = 1;

    [GeneratedRegex(@"^\[--(?<flag>[a-z][a-z-]*)(?: <(?<value>[a-z-]+)>)?\]$")]
    private static partial Regex FlagToken();

    // Before SubCommands: static initialisers run in the order they are written.
    private static readonly Dictionary<string, string> FlagDescriptions = new()
    {
        ["target"] = "The target database's name (--target), e.g. staging",
        ["confirm"] = "Go ahead without asking to confirm (--confirm)",
        ["window"] = "Run in the maintenance window (--window)",
    };

    /// <summary>Every sub-command, in the grammar's order.</summary>
    public static IReadOnlyList<SubCommandDefinition> SubCommands { get; } = [.. MigrateGrammar.SubCommands.Select(Read)];

    /// <summary>The body of <c>PUT /applications/{app}/guilds/{guild}/commands</c>: the one command this bot has.</summary>
    public static JsonArray RegistrationBody() =>
    [
        new JsonObject
        {
            ["name"] = Name,
            ["type"] = 1,
            ["description"] = "Run and watch PostgreSQL migrations with sign-off",
            ["options"] = new JsonArray([.. SubCommands.Select(s => (JsonNode)new JsonObject
            {
                ["type"] = SubCommandType,
                ["name"] = s.Name,
                ["description"] = Limit(s.Description),
                ["options"] = new JsonArray([.. s.Options.OrderByDescending(o => o.Required).Select(o => (JsonNode)new JsonObject
                {
                    ["type"] = o.Type,
                    ["name"] = o.Name,
                    ["description"] = Limit(o.Description),
                    ["required"] = o.Required,
                })]),
            })]),
        },
    ];

    private static SubCommandDefinition Read(SubCommandUsage usage)
    {
        // "/migrate start <migration> [--target <name>]": the words after the sub-command's name.
        var tokens = Regex.Matches(usage.Usage, @"\[[^\]]*\]|\S+").Select(m => m.Value).ToList();
        var rest = tokens.SkipWhile(t => !t.Equals(usage.Name, StringComparison.Ordinal)).Skip(1);
        var options = new List<SubCommandOption>();
        foreach (var token in rest)
        {
            if (token == "<migration>")
                options.Add(new("migration", StringOption, "The migration's name, e.g. 20250803_add_index", true, null));
            else if (token == "[D-n]")
                options.Add(new("deployment", StringOption, "The deployment id, e.g. D-3 (optional when the channel has one active deployment)", false, null));
            else if (FlagToken().Match(token) is { Success: true } flag)
            {
                var name = flag.Groups["flag"].Value;
                var known = FlagDescriptions.GetValueOrDefault(name);
                options.Add(flag.Groups["value"].Success
                    ? new(name, StringOption, known ?? $"--{name} <{flag.Groups["value"].Value}>", false, "--" + name)
                    : new(name, BooleanOption, known ?? $"--{name}", false, "--" + name));
            }
            else
                throw new InvalidOperationException($"The usage '{usage.Usage}' has '{token}', which the Discord command cannot express yet: teach MigrateCommandDefinition about it.");
        }
        return new(usage.Name, usage.Summary, options);
    }

    private static string Limit(string description) => description.Length <= 100 ? description : description[..99] + "…";
}
