using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Approvals;

/// <summary>Who holds which sign-off role (<c>ChatOps:Roles:&lt;Role&gt;</c>: lists of user ids). A person may hold several.</summary>
public sealed class RoleHolders(IReadOnlyDictionary<SignOffRole, IReadOnlySet<string>> holders)
{
    /// <summary>Every role a user holds (none for a user outside every list).</summary>
    public IReadOnlyList<SignOffRole> RolesOf(string user) =>
        Enum.GetValues<SignOffRole>().Where(r => holders.TryGetValue(r, out var users) && users.Contains(user)).ToList();

    /// <summary>The holders of one role.</summary>
    public IReadOnlySet<string> HoldersOf(SignOffRole role) => holders.TryGetValue(role, out var users) ? users : new HashSet<string>();
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
/// matters — a first-come assignment would wrongly refuse when a person holding two roles signs first. Pure: the caller
/// says when, and whether execution has started.
/// </summary>
public sealed class SignOffBook(string requester, RoleHolders holders, SignOffPolicy policy)
{
    private readonly Dictionary<string, DateTimeOffset> _signed = [];
    private readonly List<string> _revokedAfterStart = [];

    /// <summary>Everyone whose sign-off stands, with when they signed.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Signers => _signed;

    /// <summary>A sign-off by <paramref name="user"/> at <paramref name="at"/>.</summary>
    public SignOffOutcome Sign(string user, DateTimeOffset at)
    {
        var roles = holders.RolesOf(user);
        if (roles.Count == 0)
            return new(false, $"{user} holds none of the four roles");
        if (user == requester && !policy.AllowRequester)
            return new(false, $"{user} requested this deployment and may not sign it (separation of duties; ChatOps:Approvals:AllowRequester)");
        if (_signed.ContainsKey(user))
            return new(false, $"{user} has signed already");
        _signed[user] = at;
        return new(true, $"{user} signed ({string.Join(", ", roles.Select(r => r.Title()))})");
    }

    /// <summary>A removed reaction (or <c>revoke</c>): revokes until execution starts; afterwards it is only recorded.</summary>
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

    /// <summary>Puts back sign-offs read from storage (who, and when they signed), as they were recorded.</summary>
    public void Restore(IEnumerable<KeyValuePair<string, DateTimeOffset>> signed)
    {
        _signed.Clear();
        foreach (var (user, at) in signed)
            _signed[user] = at;
    }

    /// <summary>Every sign-off is void (the migration file changed after signing): the deployment needs four new ones.</summary>
    public void VoidAll() => _signed.Clear();

    /// <summary>
    /// Roles to the people covering them, from the sign-offs still valid at <paramref name="now"/>: as many roles as any
    /// assignment of distinct people can cover, preferring earlier signers where several assignments are as good.
    /// </summary>
    public IReadOnlyDictionary<SignOffRole, string> Assignment(DateTimeOffset now)
    {
        var valid = _signed.Where(s => now - s.Value < policy.Validity).OrderBy(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => s.Key).ToList();
        return RoleAssignment.Maximum(valid, holders);
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

/// <summary>Distinct people to roles: a maximum bipartite matching (augmenting paths; four roles make it tiny).</summary>
public static class RoleAssignment
{
    /// <param name="signers">In order of preference (earliest first).</param>
    public static IReadOnlyDictionary<SignOffRole, string> Maximum(IReadOnlyList<string> signers, RoleHolders holders)
    {
        var byRole = new Dictionary<SignOffRole, string>();
        foreach (var signer in signers)
            TryPlace(signer, holders, byRole, new HashSet<SignOffRole>());
        return byRole;
    }

    // Kuhn's algorithm: give the signer a free role they hold, or move the holder of one of their roles to another role.
    private static bool TryPlace(string signer, RoleHolders holders, Dictionary<SignOffRole, string> byRole, HashSet<SignOffRole> visited)
    {
        foreach (var role in holders.RolesOf(signer))
        {
            if (!visited.Add(role))
                continue;
            if (!byRole.TryGetValue(role, out var current) || TryPlace(current, holders, byRole, visited))
            {
                byRole[role] = signer;
                return true;
            }
        }
        return false;
    }
}
