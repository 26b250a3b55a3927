using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Approvals;

/// <summary>
/// Who holds which sign-off role (<c>ChatOps:Roles:&lt;Role&gt;</c>). An entry is a user id, or <c>group:&lt;id&gt;</c>: a
/// platform group (a Slack user group, a Discord role) whose members hold the role. A person may hold several roles.
/// Pure: which groups a person is in is the platform's to say (<see cref="Conversation.IChatChannel.GroupsOfAsync"/>); the caller asks, then passes them in.
/// </summary>
public sealed class RoleHolders
{
    /// <summary>How a role entry names a platform group.</summary>
    public const string GroupPrefix = "group:";

    private readonly IReadOnlyDictionary<SignOffRole, IReadOnlySet<string>> _holders;
    private readonly Dictionary<SignOffRole, HashSet<string>> _users = [];
    private readonly Dictionary<SignOffRole, HashSet<string>> _groups = [];

    /// <param name="holders">Each role's entries: user ids and <c>group:&lt;id&gt;</c>.</param>
    public RoleHolders(IReadOnlyDictionary<SignOffRole, IReadOnlySet<string>> holders)
    {
        _holders = holders;
        foreach (var (role, entries) in holders)
        {
            _users[role] = new HashSet<string>(StringComparer.Ordinal);
            _groups[role] = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                if (!IsGroupEntry(entry))
                    _users[role].Add(entry);
                else if (GroupOf(entry) is { } group)
                    _groups[role].Add(group);
            }
        }
    }

    /// <summary>The group id of an entry written <c>group:&lt;id&gt;</c>; null for a user id (or an empty <c>group:</c>, which names nobody).</summary>
    public static string? GroupOf(string entry) =>
        entry.StartsWith(GroupPrefix, StringComparison.Ordinal) ? entry[GroupPrefix.Length..].Trim() is { Length: > 0 } id ? id : null : null;

    // Written as a group, well-formed or not: an empty group: names nobody (never the user "group:").
    private static bool IsGroupEntry(string entry) => entry.StartsWith(GroupPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Every role <paramref name="user"/> holds, directly or through one of <paramref name="groups"/> (the platform groups they
    /// are in), in role order; none for a user outside every list.
    /// </summary>
    public IReadOnlyList<SignOffRole> RolesOf(string user, IReadOnlyCollection<string> groups) =>
        Enum.GetValues<SignOffRole>().Where(r =>
            (_users.TryGetValue(r, out var users) && users.Contains(user))
            || (_groups.TryGetValue(r, out var named) && groups.Any(named.Contains))).ToList();

    /// <summary>The entries of one role, as configured (user ids and <c>group:&lt;id&gt;</c>): whom to mention.</summary>
    public IReadOnlySet<string> HoldersOf(SignOffRole role) => _holders.TryGetValue(role, out var entries) ? entries : new HashSet<string>();
}

/// <summary>The sign-off rules: may the requester sign, and how long a sign-off stays valid.</summary>
public sealed record SignOffPolicy(bool AllowRequester = false, TimeSpan? ValidFor = null)
{
    /// <summary>Default 24 hours (<c>ChatOps:Approvals:ValidFor</c>).</summary>
    public TimeSpan Validity => ValidFor ?? TimeSpan.FromHours(24);
}

/// <summary>What became of a reaction (or <c>approve</c>/<c>revoke</c>): counted or not, and why — every one is audited.</summary>
public sealed record SignOffOutcome(bool Counted, string Why);

/// <summary>
/// One deployment's sign-offs. Four roles, four different people: the deployment is approved as soon as <em>some</em>
/// assignment of distinct signers to roles covers all four (a maximum bipartite matching), so the order of reactions never
/// matters — a first-come assignment would wrongly refuse when a person holding two roles signs first. Each sign-off keeps
/// the roles its signer held when signing, and the matching uses those. Pure: the caller says when, which platform groups
/// the signer is in, and whether execution has started.
/// </summary>
public sealed class SignOffBook(string requester, RoleHolders holders, SignOffPolicy policy)
{
    private readonly Dictionary<string, SignOffRecord> _signed = [];
    private readonly List<string> _revokedAfterStart = [];

    /// <summary>Everyone whose sign-off stands, with when they signed and the roles they held then.</summary>
    public IReadOnlyDictionary<string, SignOffRecord> Signers => _signed;

    /// <summary>
    /// A sign-off by <paramref name="user"/> at <paramref name="at"/>, who is in the platform groups <paramref name="groups"/>: the
    /// roles they hold now (directly or through a group) are recorded with it, and how it was given; it counts for those roles from then on.
    /// Signing again after one's own sign-off expired renews it (a new time, the roles held now).
    /// </summary>
    public SignOffOutcome Sign(string user, IReadOnlyCollection<string> groups, DateTimeOffset at, SignOffGivenBy givenBy = SignOffGivenBy.Unknown)
    {
        var roles = holders.RolesOf(user, groups);
        if (roles.Count == 0)
            return new(false, $"{user} holds none of the four roles");
        if (user == requester && !policy.AllowRequester)
            return new(false, $"{user} requested this deployment and may not sign it (separation of duties; ChatOps:Approvals:AllowRequester)");
        var renewed = _signed.TryGetValue(user, out var earlier);
        if (renewed && IsValid(earlier!, at))
            return new(false, $"{user} has signed already");
        _signed[user] = new SignOffRecord(at, roles, givenBy);
        return new(true, $"{user} signed{(renewed ? $" again (their sign-off of {earlier!.At:yyyy-MM-dd HH:mm}Z had expired)" : "")} " +
                         $"({string.Join(", ", roles.Select(r => r.Title()))})");
    }

    /// <summary>How long a sign-off counts (<c>ChatOps:Approvals:ValidFor</c>).</summary>
    public TimeSpan Validity => policy.Validity;

    /// <summary>Whether <paramref name="record"/> still counts at <paramref name="now"/> (<c>ChatOps:Approvals:ValidFor</c>).</summary>
    public bool IsValid(SignOffRecord record, DateTimeOffset now) => now - record.At < Validity;

    /// <summary>When <paramref name="record"/> stops counting.</summary>
    public DateTimeOffset ExpiresAt(SignOffRecord record) => record.At + Validity;

    /// <summary>
    /// A removed reaction (or <c>revoke</c>): revokes until execution starts; afterwards it is only recorded. No groups are needed:
    /// the record knows who signed (a removed reaction carries no membership).
    /// </summary>
    public SignOffOutcome Revoke(string user, bool executionStarted)
    {
        if (!_signed.ContainsKey(user))
            return new(false, $"{user} had not signed");
        if (executionStarted)
        {
            _revokedAfterStart.Add(user);
            return new(false, $"{user} removed their sign-off after execution started: recorded, and it no longer changes anything");
        }
        _signed.Remove(user);
        return new(true, $"{user} revoked their sign-off");
    }

    /// <summary>
    /// Puts back sign-offs read from storage (who, when, and the roles they held when signing), as they were recorded: a
    /// configuration or group membership changed since does not change what a sign-off covers. An expired one is put back too (the
    /// trail and the card say it expired); it counts for nothing, and its signer may sign again.
    /// </summary>
    public void Restore(IEnumerable<KeyValuePair<string, SignOffRecord>> signed)
    {
        _signed.Clear();
        foreach (var (user, record) in signed)
            _signed[user] = record;
    }

    /// <summary>
    /// The sign-offs given by the ✅ reaction whose signer is not among <paramref name="listed"/> (who reacted ✅, as the platform lists
    /// them now): their reaction is gone. A sign-off given by <c>approve</c>, or of unknown origin, has no reaction to look for.
    /// </summary>
    public IReadOnlyList<string> ReactionGoneFrom(IReadOnlyCollection<string> listed) =>
        _signed.Where(s => s.Value.GivenBy == SignOffGivenBy.Reaction && !listed.Contains(s.Key))
            .OrderBy(s => s.Value.At).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Key).ToList();

    /// <summary>Every sign-off is void (the migration file changed after signing): the deployment needs four new ones.</summary>
    public void VoidAll() => _signed.Clear();

    /// <summary>
    /// Roles to the people covering them, from the sign-offs still valid at <paramref name="now"/> and the roles recorded with
    /// each: as many roles as any assignment of distinct people can cover, preferring earlier signers where several are as good.
    /// </summary>
    public IReadOnlyDictionary<SignOffRole, string> Assignment(DateTimeOffset now)
    {
        var valid = _signed.Where(s => IsValid(s.Value, now)).OrderBy(s => s.Value.At).ThenBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => (s.Key, s.Value.Roles)).ToList();
        return RoleAssignment.Maximum(valid);
    }

    /// <summary>All four roles covered by four different people whose sign-offs are valid at <paramref name="now"/>.</summary>
    public bool IsApproved(DateTimeOffset now) => Assignment(now).Count == Enum.GetValues<SignOffRole>().Length;

    /// <summary>The manual checklist items the covering signers attest (each role attests its own).</summary>
    public IReadOnlyList<CheckResult> Attested(DateTimeOffset now)
    {
        var covered = Assignment(now);
        return Checklist.ManualItems.Where(i => i.Role is { } role && covered.ContainsKey(role)).ToList();
    }
}

/// <summary>
/// A standing sign-off: when it was given, the roles its signer held then (directly or through a platform group), and how it was given.
/// </summary>
public sealed record SignOffRecord(DateTimeOffset At, IReadOnlyList<SignOffRole> Roles, SignOffGivenBy GivenBy = SignOffGivenBy.Unknown);

/// <summary>How a sign-off was given: only one given by the ✅ reaction is revoked when that reaction is found gone.</summary>
public enum SignOffGivenBy
{
    /// <summary>Not recorded (signed before the state database kept it): never revoked for a missing reaction.</summary>
    Unknown,
    /// <summary>The ✅ reaction on the card.</summary>
    Reaction,
    /// <summary><c>/migrate approve</c>, for people who cannot react: there is no reaction to miss.</summary>
    Command,
}

/// <summary>Distinct people to roles: a maximum bipartite matching (augmenting paths; four roles make it tiny).</summary>
public static class RoleAssignment
{
    /// <param name="signers">Each signer with the roles they may cover, in order of preference (earliest first).</param>
    public static IReadOnlyDictionary<SignOffRole, string> Maximum(IReadOnlyList<(string Signer, IReadOnlyList<SignOffRole> Roles)> signers)
    {
        var rolesOf = signers.ToDictionary(s => s.Signer, s => s.Roles, StringComparer.Ordinal);
        var byRole = new Dictionary<SignOffRole, string>();
        foreach (var (signer, _) in signers)
            TryPlace(signer, rolesOf, byRole, []);
        return byRole;
    }

    // Kuhn's algorithm: give the signer a free role they hold, or move the holder of one of their roles to another role.
    private static bool TryPlace(string signer, Dictionary<string, IReadOnlyList<SignOffRole>> rolesOf, Dictionary<SignOffRole, string> byRole,
        HashSet<SignOffRole> visited)
    {
        foreach (var role in rolesOf[signer])
        {
            if (!visited.Add(role))
                continue;
            if (!byRole.TryGetValue(role, out var current) || TryPlace(current, rolesOf, byRole, visited))
            {
                byRole[role] = signer;
                return true;
            }
        }
        return false;
    }
}
