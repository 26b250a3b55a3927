using System.Text.Json;
using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack;

/// <summary>
/// Which of the configured user groups (role entries <c>group:S…</c>) a person is in, from <c>usergroups.users.list</c>;
/// each group's members are kept for <see cref="CacheFor"/> (Tier 2: about 20 calls a minute).
/// </summary>
internal sealed class SlackUserGroups
{
    /// <summary>How long a group's members are trusted; a change in Slack shows within this time.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);

    private readonly SlackApiClient _api;
    private readonly IReadOnlyList<string> _groups;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (DateTimeOffset Fetched, IReadOnlySet<string> Members)> _members = new(StringComparer.Ordinal);

    public SlackUserGroups(SlackApiClient api, RoleHolders roles, TimeProvider time, ILogger logger)
    {
        _api = api;
        _time = time;
        _logger = logger;
        _groups = Enum.GetValues<SignOffRole>().SelectMany(roles.HoldersOf).Select(GroupId).OfType<string>()
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The user-group id of a role entry written <c>group:S…</c>; null for a user id (the core's reading of an entry).</summary>
    public static string? GroupId(string entry) => RoleHolders.GroupOf(entry);

    /// <summary>The configured group ids (<c>S…</c>, without the prefix) that <paramref name="userId"/> is a member of.</summary>
    public async Task<IReadOnlySet<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in _groups)
            if ((await MembersAsync(group, cancellationToken)).Contains(userId))
                found.Add(group);
        return found;
    }

    private async Task<IReadOnlySet<string>> MembersAsync(string group, CancellationToken cancellationToken)
    {
        lock (_gate)
            if (_members.TryGetValue(group, out var cached) && _time.GetUtcNow() - cached.Fetched < CacheFor)
                return cached.Members;

        IReadOnlySet<string> members;
        try
        {
            var answer = await _api.CallFormAsync("usergroups.users.list", new Dictionary<string, string> { ["usergroup"] = group }, cancellationToken);
            members = answer.TryGetProperty("users", out var users) && users.ValueKind == JsonValueKind.Array
                ? users.EnumerateArray().Select(u => u.GetString()).OfType<string>().ToHashSet(StringComparer.Ordinal)
                : new HashSet<string>();
        }
        catch (SlackApiException ex) when (ex.Error is "no_such_subteam" or "subteam_not_found" or "plan_upgrade_required")
        {
            // A configuration problem, not a passing one: nobody counts through this group until it is fixed (never the reverse).
            _logger.LogWarning("Slack: role entry {Prefix}{Group} cannot be resolved ({Error}): nobody counts through it", RoleHolders.GroupPrefix, group, ex.Error);
            members = new HashSet<string>();
        }
        lock (_gate)
            _members[group] = (_time.GetUtcNow(), members);
        return members;
    }
}
