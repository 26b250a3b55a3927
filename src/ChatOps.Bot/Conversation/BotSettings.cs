using ChatOps.Core.Approvals;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;

namespace ChatOps.Bot.Conversation;

/// <summary>
/// What <c>serve</c> reads besides the validated options: the role holders (<c>ChatOps:Roles:&lt;Role&gt;</c>, lists of
/// user ids and <c>group:&lt;id&gt;</c> platform groups), the targets (<c>ConnectionStrings:Target</c> and <c>ChatOps:Targets:&lt;name&gt;</c>), the state database
/// (<c>ConnectionStrings:State</c>), the platforms (<c>ChatOps:Platforms</c>) and the maintenance window (<c>ChatOps:MaintenanceWindow</c>).
/// Every problem is listed, with how to fix it.
/// </summary>
public sealed record BotSettings(RoleHolders Roles, Targets Targets, string State, IReadOnlyList<string> Platforms, SignOffPolicy Approvals,
    DeploymentPermissions Permissions)
{
    /// <summary>
    /// <c>ChatOps:MaintenanceWindow</c> (<c>Start</c>, <c>End</c> as HH:mm, default 02:00 and 04:00; <c>TimeZone</c> an IANA id, required),
    /// or null when the section is absent: <c>start --window</c> is then refused, saying how to configure it.
    /// </summary>
    public MaintenanceWindow? MaintenanceWindow { get; init; }

    /// <summary>
    /// <c>ChatOps:Approvals:WatchInterval</c>: how often expired sign-offs and changed pinned files are looked for while deployments
    /// take sign-offs (<see cref="SignOffWatch"/>); null: its default, 5 seconds.
    /// </summary>
    public TimeSpan? SignOffWatchInterval { get; init; }

    /// <summary>What <c>start --window</c> answers when no window is configured.</summary>
    public const string NoWindowConfigured = "no maintenance window is configured: set ChatOps:MaintenanceWindow:Start and End (local times as HH:mm, " +
        "e.g. 02:00 and 04:00) and ChatOps:MaintenanceWindow:TimeZone (an IANA id, e.g. Europe/Berlin) — env ChatOps__MaintenanceWindow__Start=02:00 …";

    /// <summary>The configuration keys of the four roles, as the issue names them.</summary>
    public static readonly IReadOnlyDictionary<string, SignOffRole> RoleKeys = new Dictionary<string, SignOffRole>(StringComparer.OrdinalIgnoreCase)
    {
        ["DatabaseAdministrator"] = SignOffRole.DatabaseAdministrator,
        ["SeniorBackendEngineer"] = SignOffRole.SeniorBackendEngineer,
        ["DevOpsLead"] = SignOffRole.DevOpsSreLead,
        ["ProductOwner"] = SignOffRole.ProductOwner,
    };

    public static readonly IReadOnlyList<string> KnownPlatforms = ["Local", "Slack", "Discord"];

    /// <summary>The settings, or every problem found (each says how to fix it).</summary>
    public static (BotSettings? Settings, IReadOnlyList<string> Problems) Read(IConfiguration configuration)
    {
        var problems = new List<string>();
        var holders = new Dictionary<SignOffRole, IReadOnlySet<string>>();
        foreach (var section in configuration.GetSection("ChatOps:Roles").GetChildren())
        {
            if (!RoleKeys.TryGetValue(section.Key, out var role))
            {
                problems.Add($"ChatOps:Roles:{section.Key} is not a role; the roles are {string.Join(", ", RoleKeys.Keys)}");
                continue;
            }
            var entries = section.GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).ToList();
            if (section.Value is { Length: > 0 } single)
                entries.AddRange(single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            var holding = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                if (GroupEntry(entry) is not { } group)
                    holding.Add(entry);
                else if (group.Length == 0)
                    problems.Add($"ChatOps:Roles:{section.Key} lists '{entry}', a group without an id: write group:<id> with the platform group's id " +
                                 "(a Slack user group S…, a Discord role id), or a user id");
                else
                    holding.Add(RoleHolders.GroupPrefix + group);
            }
            holders[role] = holding;
        }
        foreach (var (key, role) in RoleKeys)
            if (!holders.TryGetValue(role, out var users) || users.Count == 0)
                problems.Add($"nobody holds {role.Title()}: set ChatOps:Roles:{key} to a list of user ids or group:<id> platform groups (ChatOps__Roles__{key}__0=U123…): " +
                             "a deployment needs all four roles to sign");

        var named = configuration.GetSection("ChatOps:Targets").GetChildren()
            .Where(c => !string.IsNullOrWhiteSpace(c.Value)).ToDictionary(c => c.Key, c => c.Value!, StringComparer.Ordinal);
        var target = configuration.GetConnectionString("Target");
        if (string.IsNullOrWhiteSpace(target) && named.Count == 0)
            problems.Add("no target database: set ConnectionStrings:Target (ConnectionStrings__Target=…) or named ones under ChatOps:Targets");

        var state = configuration.GetConnectionString("State");
        if (string.IsNullOrWhiteSpace(state))
            problems.Add("no state database: serve keeps deployments, sign-offs and the audit trail in PostgreSQL — set ConnectionStrings:State " +
                         "(ConnectionStrings__State=\"Host=…;Database=chatops;Username=…\"; the tables are created at start-up)");

        var platforms = configuration.GetSection("ChatOps:Platforms").GetChildren().Select(c => c.Value ?? "").Where(v => v.Length > 0).ToList();
        if (configuration["ChatOps:Platforms"] is { Length: > 0 } list)
            platforms.AddRange(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (var unknown in platforms.Where(p => !KnownPlatforms.Contains(p, StringComparer.OrdinalIgnoreCase)))
            problems.Add($"ChatOps:Platforms lists '{unknown}'; the platforms are {string.Join(", ", KnownPlatforms)}");
        // Named in their canonical spelling, whatever case the configuration used.
        platforms = platforms.Select(p => KnownPlatforms.FirstOrDefault(k => k.Equals(p, StringComparison.OrdinalIgnoreCase)) ?? p).Distinct().ToList();
        if (platforms.Count == 0)
        {
            // Absent: a platform is enabled when its credentials are configured; with none, the console is the channel.
            if (!string.IsNullOrWhiteSpace(configuration["Slack:BotToken"]))
                platforms.Add("Slack");
            if (!string.IsNullOrWhiteSpace(configuration["Discord:BotToken"]))
                platforms.Add("Discord");
            if (platforms.Count == 0)
                platforms.Add("Local");
        }
        foreach (var platform in platforms.Where(p => p is "Slack" or "Discord"))
            if (string.IsNullOrWhiteSpace(configuration[$"{platform}:BotToken"]))
                problems.Add($"ChatOps:Platforms lists {platform} but {platform}:BotToken is not set: set it (env {platform}__BotToken), or take {platform} out of the list");

        // ChatOps:Approvals: separation of duties and how long a sign-off stands.
        var allowRequester = false;
        if (configuration["ChatOps:Approvals:AllowRequester"] is { Length: > 0 } allow && !bool.TryParse(allow, out allowRequester))
            problems.Add($"ChatOps:Approvals:AllowRequester is '{allow}', not true or false (default false)");
        TimeSpan? validFor = null;
        if (configuration["ChatOps:Approvals:ValidFor"] is { Length: > 0 } valid)
        {
            if (TimeSpan.TryParse(valid, System.Globalization.CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero)
                validFor = span;
            else
                problems.Add($"ChatOps:Approvals:ValidFor is '{valid}', not a positive duration: write hh:mm:ss or d.hh:mm:ss (default 1.00:00:00)");
        }
        TimeSpan? watchInterval = null;
        if (configuration["ChatOps:Approvals:WatchInterval"] is { Length: > 0 } watch)
        {
            if (TimeSpan.TryParse(watch, System.Globalization.CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero)
                watchInterval = span;
            else
                problems.Add($"ChatOps:Approvals:WatchInterval is '{watch}', not a positive duration: write hh:mm:ss (default 00:00:05)");
        }

        // ChatOps:Permissions:<Start|Pause|Resume|Rollback|Abort> = role keys.
        var allowed = new Dictionary<DeploymentAction, IReadOnlyList<SignOffRole>>();
        foreach (var section in configuration.GetSection("ChatOps:Permissions").GetChildren())
        {
            if (!Enum.TryParse<DeploymentAction>(section.Key, ignoreCase: true, out var action))
            {
                problems.Add($"ChatOps:Permissions:{section.Key} is not an action; the actions are {string.Join(", ", Enum.GetNames<DeploymentAction>())}");
                continue;
            }
            var roles = new List<SignOffRole>();
            foreach (var key in section.GetChildren().Select(c => c.Value ?? "").Concat(section.Value?.Split(',', StringSplitOptions.TrimEntries) ?? []).Where(k => k.Length > 0))
                if (RoleKeys.TryGetValue(key, out var role)) roles.Add(role);
                else problems.Add($"ChatOps:Permissions:{section.Key} lists '{key}'; the roles are {string.Join(", ", RoleKeys.Keys)}");
            allowed[action] = roles;
        }

        // ChatOps:MaintenanceWindow: absent is fine (no --window); present, it needs a time zone (Start and End default to 02:00–04:00).
        MaintenanceWindow? window = null;
        var windowSection = configuration.GetSection(Core.Scheduling.MaintenanceWindow.Section);
        if (windowSection.Exists())
        {
            foreach (var unknown in windowSection.GetChildren().Select(c => c.Key).Where(k => k is not ("Start" or "End" or "TimeZone")))
                problems.Add($"{Core.Scheduling.MaintenanceWindow.Section}:{unknown} is no setting; the settings are Start, End and TimeZone");
            var (parsed, windowProblems) = Core.Scheduling.MaintenanceWindow.Parse(windowSection["Start"] ?? "02:00", windowSection["End"] ?? "04:00",
                windowSection["TimeZone"]);
            problems.AddRange(windowProblems);
            window = parsed;
        }

        var roleHolders = new RoleHolders(holders);
        return problems.Count > 0
            ? (null, problems)
            : (new BotSettings(roleHolders, new Targets(string.IsNullOrWhiteSpace(target) ? null : target, named), state!, platforms,
                new SignOffPolicy(allowRequester, validFor), new DeploymentPermissions(roleHolders, allowed)) { MaintenanceWindow = window, SignOffWatchInterval = watchInterval }, problems);
    }

    /// <summary>
    /// The group id of a role entry naming a platform group (<c>group:&lt;id&gt;</c>; Discord's <c>role:&lt;id&gt;</c> is read as the same),
    /// empty when the id is missing; null for a user id.
    /// </summary>
    private static string? GroupEntry(string entry)
    {
        foreach (var prefix in (string[])[RoleHolders.GroupPrefix, "role:"])
            if (entry.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                return entry[prefix.Length..].Trim();
        return null;
    }
}
