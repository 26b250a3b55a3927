using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Execution;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;

namespace ChatOps.Core.Deployments;

/// <summary>Where a deployment stands (issue 12 §3).</summary>
public enum DeploymentState
{
    Requested,
    AwaitingApproval,
    Approved,
    Running,
    Paused,
    /// <summary>The verdict passed; the bot watches the rollback triggers for the post-deployment period, then reports: Completed.</summary>
    Monitoring,
    Completed,
    Failed,
    RollingBack,
    RolledBack,
    RollbackFailed,
    Aborted,
}

/// <summary>The files a deployment runs, pinned when it starts: what runs is exactly these bytes.</summary>
public sealed record PinnedFile(string Name, string Sha256, byte[] Bytes);

/// <summary>The migration, its rollback and its runbook file as they were when the deployment started.</summary>
public sealed record PinnedMigration(string Id, PinnedFile Sql, PinnedFile? Rollback, PinnedFile? Runbook);

/// <summary>One line of the audit trail: every transition, command and reaction — counted or not, and why.</summary>
public sealed record AuditEvent(DateTimeOffset At, string Who, string What, bool Counted = true);

/// <summary>What a listing of the card's ✅ changed (<see cref="Deployment.ReactionsListed"/>): the sign-offs revoked (or, after execution
/// started, recorded as gone) because their ✅ was gone, and the sign-offs given by a ✅ that was missed.</summary>
public sealed record ReactionsReconciled(IReadOnlyList<SignOffOutcome> Removed, IReadOnlyList<SignOffOutcome> Signed)
{
    /// <summary>In a few words, for the inbox's record.</summary>
    public string Summary => Removed.Count + Signed.Count == 0
        ? "the ✅ on the card match the sign-offs"
        : string.Join("; ", Removed.Concat(Signed).Select(o => o.Why));
}

/// <summary>What a control command may do, or why it may not.</summary>
public sealed record ControlOutcome(bool Done, string Why);

/// <summary>The control actions permissions are about.</summary>
public enum DeploymentAction
{
    Start,
    Pause,
    Resume,
    Rollback,
    Abort,
}

/// <summary>
/// <c>ChatOps:Permissions</c>: who may start, pause, resume (any of the four roles by default), roll back and abort
/// (Database Administrator and DevOps/SRE Lead by default).
/// </summary>
public sealed class DeploymentPermissions(RoleHolders holders, IReadOnlyDictionary<DeploymentAction, IReadOnlyList<SignOffRole>>? allowed = null)
{
    private static readonly IReadOnlyList<SignOffRole> AnyRole = Enum.GetValues<SignOffRole>();
    private static readonly IReadOnlyList<SignOffRole> Operators = [SignOffRole.DatabaseAdministrator, SignOffRole.DevOpsSreLead];

    /// <summary>The roles allowed to take <paramref name="action"/>.</summary>
    public IReadOnlyList<SignOffRole> RolesFor(DeploymentAction action) =>
        allowed is not null && allowed.TryGetValue(action, out var roles) ? roles
        : action is DeploymentAction.Rollback or DeploymentAction.Abort ? Operators : AnyRole;

    /// <summary>
    /// Null when <paramref name="user"/>, in the platform groups <paramref name="groups"/>, may; otherwise the refusal, naming the
    /// roles needed.
    /// </summary>
    public string? Refusal(string user, IReadOnlyCollection<string> groups, DeploymentAction action)
    {
        var needed = RolesFor(action);
        return holders.RolesOf(user, groups).Any(needed.Contains)
            ? null
            : $"{user} may not {action.ToString().ToLowerInvariant()}: it needs the {string.Join(" or ", needed.Select(r => r.Title()))} role";
    }
}

/// <summary>
/// One deployment: one run of a runbook for one pinned migration on one target, its sign-offs and its audit trail.
/// Pure: every change takes who and when, and returns what became of it; the conductor persists and posts.
/// </summary>
public sealed class Deployment
{
    private readonly List<AuditEvent> _audit = [];
    private readonly DeploymentPermissions _permissions;

    /// <param name="permissions">Who may start, pause, resume, roll back and abort (default: <see cref="DeploymentPermissions"/>' defaults).</param>
    /// <param name="platform">Where the deployment's channel is (<c>Slack</c>, <c>Discord</c>, <c>Local</c>).</param>
    public Deployment(DeploymentId id, PinnedMigration migration, string target, string requester, string channel,
        RoleHolders holders, SignOffPolicy policy, DateTimeOffset at, DeploymentPermissions? permissions = null, string platform = "Local")
    {
        Id = id;
        Platform = platform;
        Migration = migration;
        Target = target;
        Requester = requester;
        Channel = channel;
        SignOffs = new SignOffBook(requester, holders, policy);
        _permissions = permissions ?? new DeploymentPermissions(holders);
        Record(at, requester, $"requested {migration.Id} (sha256 {Short(migration.Sql.Sha256)}) on {target}");
    }

    /// <summary>A deployment as storage kept it: its state, sign-offs and audit trail exactly as recorded (no event is re-recorded).</summary>
    public static Deployment Restore(DeploymentId id, PinnedMigration migration, string target, string requester, string channel,
        RoleHolders holders, SignOffPolicy policy, DeploymentState state, RunbookPhase? phase, string? voidedBecause, bool checksPass,
        IEnumerable<KeyValuePair<string, SignOffRecord>> signers, IEnumerable<AuditEvent> audit, DeploymentPermissions? permissions = null,
        string platform = "Local", ScheduledWindow? window = null, bool windowOpened = false)
    {
        var restored = new Deployment(id, migration, target, requester, channel, holders, policy, DateTimeOffset.MinValue, permissions, platform);
        restored._audit.Clear();
        restored._audit.AddRange(audit);
        restored.State = state;
        restored.Phase = phase;
        restored.VoidedBecause = voidedBecause;
        restored.ChecksPass = checksPass;
        restored.SignOffs.Restore(signers);
        restored.Window = window;
        restored.WindowOpened = windowOpened;
        // An aborted deployment may or may not have run: its trail says.
        restored.ExecutionStarted = state is not (DeploymentState.Requested or DeploymentState.AwaitingApproval or DeploymentState.Approved or DeploymentState.Aborted)
                                    || restored._audit.Any(a => a.What == ExecutionStartedLine);
        return restored;
    }

    private const string ExecutionStartedLine = "execution started";

    public DeploymentId Id { get; }
    public PinnedMigration Migration { get; }
    public string Target { get; }
    public string Requester { get; }
    public string Channel { get; }

    /// <summary>The platform the channel is on: its card, thread and prompts go there.</summary>
    public string Platform { get; }
    public SignOffBook SignOffs { get; }
    public DeploymentState State { get; private set; } = DeploymentState.Requested;

    /// <summary>The runbook phase while running or paused.</summary>
    public RunbookPhase? Phase { get; private set; }

    /// <summary>Why the sign-offs were voided, when they were.</summary>
    public string? VoidedBecause { get; private set; }

    /// <summary>Whether every automated pre-deployment check passed (set by the conductor from the checks it ran).</summary>
    public bool ChecksPass { get; private set; } = true;

    /// <summary>The audit trail, oldest first.</summary>
    public IReadOnlyList<AuditEvent> Audit => _audit;

    /// <summary>True from the moment execution starts: sign-offs no longer change anything.</summary>
    public bool ExecutionStarted { get; private set; }

    /// <summary>The maintenance window it is scheduled into (<c>start --window</c>), or null: it runs as soon as it is approved.</summary>
    public ScheduledWindow? Window { get; private set; }

    /// <summary>True once its window opened with the deployment approved and its checks passing: execution may start.</summary>
    public bool WindowOpened { get; private set; }

    /// <summary>When its window closes (no phase starts after it), or null without a window.</summary>
    public DateTimeOffset? WindowEnd => Window?.End;

    /// <summary>Scheduled into a window that has not opened for it yet: approval does not start it.</summary>
    public bool WaitsForWindow => Window is not null && !WindowOpened && !ExecutionStarted;

    /// <summary>Whether a phase may start at <paramref name="at"/>: always without a window, before its end with one.</summary>
    public bool MayStartPhase(DateTimeOffset at) => Window is not { } window || at < window.End;

    /// <summary>
    /// Between phases: when the maintenance window ended, the run pauses here (the phase that was running finished) and says so. True
    /// when it did; a person may <c>resume</c> outside the window, or roll back.
    /// </summary>
    public bool PauseAtWindowEnd(DateTimeOffset at)
    {
        if (State != DeploymentState.Running || MayStartPhase(at))
            return false;
        State = DeploymentState.Paused;
        Record(at, "bot", $"paused: the maintenance window ended at {Window!.End:HH:mm}Z; the running phase finished and the next does not start " +
                          "(/migrate resume continues outside the window, /migrate rollback undoes what ran)");
        return true;
    }

    /// <summary>The roles no valid sign-off covers at <paramref name="at"/>.</summary>
    public IReadOnlyList<SignOffRole> MissingRoles(DateTimeOffset at)
    {
        var covered = SignOffs.Assignment(at);
        return Enum.GetValues<SignOffRole>().Where(r => !covered.ContainsKey(r)).ToList();
    }

    /// <summary>Active: not in a final state.</summary>
    public bool IsActive => State is not (DeploymentState.Completed or DeploymentState.RolledBack or DeploymentState.RollbackFailed or DeploymentState.Aborted);

    /// <summary>The card was posted: people may sign.</summary>
    public void AwaitApproval(DateTimeOffset at, bool checksPass)
    {
        Move(DeploymentState.Requested, DeploymentState.AwaitingApproval, at, "bot", "card posted; awaiting four sign-offs");
        ChecksPass = checksPass;
    }

    /// <summary>
    /// A sign-off (the ✅ reaction or <c>approve</c>, as <paramref name="givenBy"/> says) by <paramref name="user"/>, in the platform
    /// groups <paramref name="groups"/>; approves the deployment once four roles are covered and the checks pass.
    /// </summary>
    public SignOffOutcome SignOff(string user, IReadOnlyCollection<string> groups, DateTimeOffset at, SignOffGivenBy givenBy = SignOffGivenBy.Unknown)
    {
        if (State != DeploymentState.AwaitingApproval)
        {
            var late = new SignOffOutcome(false, $"{Id} is {Describe(State)}: sign-offs no longer change anything");
            Record(at, user, $"sign-off: {late.Why}", counted: false);
            return late;
        }
        var outcome = SignOffs.Sign(user, groups, at, givenBy);
        Record(at, user, $"sign-off: {outcome.Why}", outcome.Counted);
        if (outcome.Counted && SignOffs.IsApproved(at) && ChecksPass)
        {
            var who = SignOffs.Assignment(at).OrderBy(a => a.Key).Select(a => $"{a.Key.Title()}: {a.Value}");
            Move(DeploymentState.AwaitingApproval, DeploymentState.Approved, at, "bot", $"approved ({string.Join(", ", who)})");
        }
        return outcome;
    }

    /// <summary>The automated pre-deployment checks ran again (they had failed): whether they pass now decides whether signing can approve.</summary>
    public void ChecksRanAgain(bool pass, string summary, DateTimeOffset at)
    {
        ChecksPass = pass;
        Record(at, "bot", $"pre-deployment checks ran again: {summary}");
    }

    /// <summary>
    /// A removed ✅ (or <c>revoke</c>): revokes until execution starts; approval is withdrawn if it no longer holds. No groups:
    /// the sign-off's record knows who signed and for which roles.
    /// </summary>
    public SignOffOutcome Revoke(string user, DateTimeOffset at) => Revoke(user, at, RevokeLine);

    private const string RevokeLine = "revoke";

    private SignOffOutcome Revoke(string user, DateTimeOffset at, string how)
    {
        var outcome = SignOffs.Revoke(user, ExecutionStarted);
        Record(at, user, $"{how}: {outcome.Why}", outcome.Counted);
        if (outcome.Counted && State == DeploymentState.Approved && !SignOffs.IsApproved(at))
            Move(DeploymentState.Approved, DeploymentState.AwaitingApproval, at, "bot", "approval withdrawn: a role is no longer covered");
        return outcome;
    }

    /// <summary>
    /// Who among <paramref name="listed"/> (who reacted ✅, as the platform lists them now) <see cref="ReactionsListed"/> would sign:
    /// those who have not, while sign-offs are taken, and who have revoked nothing since the listing was read
    /// (<paramref name="listedAt"/>). Their platform groups are needed for it.
    /// </summary>
    public IReadOnlyList<string> ToSignFrom(IReadOnlyCollection<string> listed, DateTimeOffset? listedAt = null) =>
        (State is DeploymentState.AwaitingApproval or DeploymentState.Approved) && VoidedBecause is null
            ? listed.Distinct(StringComparer.Ordinal).Where(u => !SignOffs.Signers.ContainsKey(u) && !RevokedSince(u, listedAt)).ToList()
            : [];

    /// <summary>
    /// The card's ✅ as the platform lists them after a disconnect (<paramref name="listed"/>, the bot left out): what was missed is put
    /// right. A sign-off given by the reaction whose ✅ is gone is revoked, as a removed ✅ revokes (once execution started it is only
    /// recorded, and only once); then, while the deployment awaits approval, whoever reacted and has not signed signs, as their ✅ would
    /// have. A sign-off given by <c>approve</c>, or of unknown origin, stands: there is no reaction to look for.
    /// </summary>
    /// <param name="groupsOf">The platform groups of each person <see cref="ToSignFrom"/> names.</param>
    /// <param name="listedAt">
    /// When the listing was read. What was recorded at or after it is newer than the listing, which leaves it alone: a sign-off given then
    /// (its ✅ may have come after the page that would have named it) is not revoked, and whoever revoked then (a ✅ removed after the
    /// page that names it was read) is not signed again. Null: no such guard (a listing stored before the bot recorded when).
    /// </param>
    public ReactionsReconciled ReactionsListed(IReadOnlyCollection<string> listed, Func<string, IReadOnlyCollection<string>> groupsOf, DateTimeOffset at,
        DateTimeOffset? listedAt = null)
    {
        var taking = State is DeploymentState.AwaitingApproval or DeploymentState.Approved;
        if (!taking && !ExecutionStarted)
            return new([], []);
        var toSign = ToSignFrom(listed, listedAt);
        var removed = SignOffs.ReactionGoneFrom(listed)
            .Where(u => listedAt is not { } read || SignOffs.Signers[u].At < read)
            .Where(u => !ExecutionStarted || !RemovalRecordedSinceStart(u))
            .Select(u => Revoke(u, at, $"{RevokeLine}: the ✅ was found removed at reconciliation (after a disconnect)")).ToList();
        if (!taking)
            return new(removed, []);
        if (VoidedBecause is { } voided)
        {
            // The ✅ from before the sign-offs were voided are still on the card, and a listing cannot tell them from new ones.
            foreach (var user in listed.Distinct(StringComparer.Ordinal).Where(u => !SignOffs.Signers.ContainsKey(u)))
                Ignored(user, $"sign-off: a ✅ listed at reconciliation is not counted, the sign-offs were voided ({voided}): " +
                              "remove and add ✅ again, or /migrate approve", at);
            return new(removed, []);
        }
        var signed = new List<SignOffOutcome>();
        // Once approved, a further ✅ changes nothing (as it would live): the listing stops there.
        foreach (var user in toSign.TakeWhile(_ => State == DeploymentState.AwaitingApproval))
            signed.Add(SignOff(user, groupsOf(user), at, SignOffGivenBy.Reaction));
        return new(removed, signed);
    }

    // A ✅ removed live, /migrate revoke, or a newer listing's revoke, recorded at or after a listing was read: newer than the listing.
    // At the same instant the order cannot be told, and not signing is the safe side (the live events still say what happened).
    private bool RevokedSince(string user, DateTimeOffset? listedAt) =>
        listedAt is { } read && _audit.Any(a => a.Who == user && a.At >= read && a.What.StartsWith(RevokeLine + ":", StringComparison.Ordinal));

    // After execution started a gone ✅ is only recorded: once, not again at every reconnect (nor after a removal heard live).
    private bool RemovalRecordedSinceStart(string user)
    {
        var started = _audit.FindLastIndex(a => a.What == ExecutionStartedLine);
        return _audit.Skip(started + 1).Any(a => a.Who == user && !a.Counted && a.What.StartsWith(RevokeLine + ":", StringComparison.Ordinal));
    }

    /// <summary>A pinned file changed on disk before execution: every sign-off is void.</summary>
    public void FileChanged(string file, string newSha256, DateTimeOffset at) =>
        Void($"{file} changed on disk after signing (sha256 now {Short(newSha256)}): sign again", at);

    /// <summary>
    /// A pinned file as it is on disk now (<paramref name="sha256OnDisk"/> null: the file is gone). A difference from the pinned bytes
    /// that the trail has not recorded as the file's latest state voids every sign-off; the same difference seen again voids nothing
    /// (people saw it and signed again: what runs is still the pinned bytes). The file back to its pinned bytes is recorded, so that
    /// a change after it is new again (A→B voids, back to A, B again voids again). True when it voided.
    /// </summary>
    public bool FileOnDisk(PinnedFile pinned, string? sha256OnDisk, DateTimeOffset at)
    {
        if (ExecutionStarted)
            return false;   // what runs is the pinned bytes; a change afterwards concerns the next deployment
        var seen = _audit.LastOrDefault(a => a.Who == "bot" && (a.What.StartsWith($"{VoidLine}{pinned.Name} ", StringComparison.Ordinal)
                                                                || a.What.StartsWith($"{pinned.Name} {BackLine}", StringComparison.Ordinal)))?.What;
        if (sha256OnDisk == pinned.Sha256)
        {
            // Back as pinned: said once, and only after a difference was (nothing to say of a file that never changed).
            if (seen is not null && !seen.StartsWith($"{pinned.Name} {BackLine}", StringComparison.Ordinal))
                Record(at, "bot", $"{pinned.Name} {BackLine} (sha256 {Short(pinned.Sha256)}): a new change voids the sign-offs again");
            return false;
        }
        var why = sha256OnDisk is null
            ? $"{pinned.Name} is gone (deleted from the migrations directory after signing): sign again"
            : $"{pinned.Name} changed on disk after signing (sha256 now {Short(sha256OnDisk)}): sign again";
        if (seen == VoidLine + why)
            return false;
        Void(why, at);
        return true;
    }

    private const string VoidLine = "sign-offs void: ";
    private const string BackLine = "is back to its pinned bytes";

    private void Void(string why, DateTimeOffset at)
    {
        if (ExecutionStarted)
            return;   // what runs is the pinned bytes; a change afterwards concerns the next deployment
        VoidedBecause = why;
        SignOffs.VoidAll();
        if (State == DeploymentState.Approved)
            State = DeploymentState.AwaitingApproval;
        Record(at, "bot", VoidLine + why);
    }

    /// <summary>
    /// The sign-offs that expired by <paramref name="at"/> (<c>ChatOps:Approvals:ValidFor</c>) and that the trail has not said so of: each
    /// is recorded once, naming the role it covered, and an approval (not started yet) that no longer holds is withdrawn. What to say
    /// of each comes back; nothing once execution started (sign-offs no longer change anything then).
    /// </summary>
    public IReadOnlyList<string> SignOffsExpired(DateTimeOffset at)
    {
        if (ExecutionStarted || State is not (DeploymentState.AwaitingApproval or DeploymentState.Approved))
            return [];
        var said = new List<string>();
        foreach (var (user, record) in SignOffs.Signers.OrderBy(s => s.Value.At).ThenBy(s => s.Key, StringComparer.Ordinal).ToList())
        {
            if (SignOffs.IsValid(record, at) || _audit.Any(a => a.At >= record.At && a.What.StartsWith($"{ExpiredLine}{user}'s ", StringComparison.Ordinal)))
                continue;
            var expiredAt = SignOffs.ExpiresAt(record);
            // The role it covered just before it expired; one that covered none (a fifth signer) names the roles it was given for.
            var covered = SignOffs.Assignment(expiredAt - TimeSpan.FromTicks(1)).Where(a => a.Value == user).Select(a => a.Key.Title()).FirstOrDefault();
            var role = covered ?? $"{string.Join(" or ", record.Roles.Select(r => r.Title()))}, covering no role";
            var line = $"{user}'s sign-off as {role} (given {record.At:yyyy-MM-dd HH:mm}Z) expired at {expiredAt:yyyy-MM-dd HH:mm}Z " +
                       $"(sign-offs are valid for {Durations.Short(SignOffs.Validity)}): {(covered is null ? "nothing changes" : $"{covered} signs again")}";
            Record(at, "bot", ExpiredLine + line);
            said.Add(line);
        }
        if (said.Count > 0 && State == DeploymentState.Approved && !SignOffs.IsApproved(at))
            Move(DeploymentState.Approved, DeploymentState.AwaitingApproval, at, "bot", "approval withdrawn: a sign-off expired");
        return said;
    }

    private const string ExpiredLine = "sign-off expired: ";

    /// <summary><c>start --window</c>: the deployment waits for <paramref name="window"/>; approval before it does not start execution.</summary>
    /// <param name="described">The window as people read it (its zone and UTC), for the audit trail.</param>
    public void ScheduleInto(ScheduledWindow window, string described, DateTimeOffset at)
    {
        if (ExecutionStarted || State is not (DeploymentState.Requested or DeploymentState.AwaitingApproval or DeploymentState.Approved))
            throw new InvalidOperationException($"{Id} is {Describe(State)}: too late to schedule it");
        Window = window;
        WindowOpened = false;
        Record(at, "bot", $"scheduled for the maintenance window {described}");
    }

    /// <summary>Its window opened with the deployment approved and the checks passing: execution may start now.</summary>
    public void OpenWindow(DateTimeOffset at)
    {
        if (State != DeploymentState.Approved || !WaitsForWindow)
            throw new InvalidOperationException($"{Id} is {Describe(State)}{(WaitsForWindow ? "" : " and waits for no window")}: nothing to open");
        WindowOpened = true;
        Record(at, "bot", "maintenance window open: execution starts");
    }

    /// <summary>
    /// Its window opened and it could not start (<paramref name="why"/>): it waits for <paramref name="next"/>. An approval whose
    /// sign-offs lapsed meanwhile is withdrawn: the roles sign again.
    /// </summary>
    public void Postpone(ScheduledWindow next, string why, string described, DateTimeOffset at)
    {
        if (!WaitsForWindow || !IsActive)
            throw new InvalidOperationException($"{Id} is {Describe(State)}: nothing to postpone");
        Window = next;
        if (State == DeploymentState.Approved && !SignOffs.IsApproved(at))
            State = DeploymentState.AwaitingApproval;
        Record(at, "bot", $"postponed to the maintenance window {described}: {why}");
    }

    /// <summary>Execution starts (after approval).</summary>
    public void Begin(DateTimeOffset at)
    {
        if (WaitsForWindow)
            throw new InvalidOperationException($"{Id} waits for its maintenance window: it starts when the window opens");
        Move(DeploymentState.Approved, DeploymentState.Running, at, "bot", ExecutionStartedLine);
        ExecutionStarted = true;
        Phase = RunbookPhase.PreDeployment;
    }

    public void EnterPhase(RunbookPhase phase, DateTimeOffset at)
    {
        if (State is not (DeploymentState.Running or DeploymentState.Paused))
            throw new InvalidOperationException($"{Id} is {Describe(State)}: no phase to enter");
        Phase = phase;
        Record(at, "bot", $"{phase.Title()} started");
    }

    /// <summary><c>pause</c>: the run stops at the next statement boundary or before the next phase.</summary>
    public ControlOutcome Pause(string user, IReadOnlyCollection<string> groups, DateTimeOffset at) =>
        Control(user, groups, DeploymentAction.Pause, at, DeploymentState.Running, DeploymentState.Paused, "paused (at the next statement boundary or phase)");

    public ControlOutcome Resume(string user, IReadOnlyCollection<string> groups, DateTimeOffset at) =>
        Control(user, groups, DeploymentAction.Resume, at, DeploymentState.Paused, DeploymentState.Running, "resumed");

    /// <summary><c>abort</c>: before execution it ends the deployment; during it, the run stops at the next statement boundary without rolling back.</summary>
    public ControlOutcome Abort(string user, IReadOnlyCollection<string> groups, DateTimeOffset at)
    {
        if (_permissions.Refusal(user, groups, DeploymentAction.Abort) is { } refusal)
            return Refuse(user, "abort", refusal, at);
        if (State is not (DeploymentState.Requested or DeploymentState.AwaitingApproval or DeploymentState.Approved or DeploymentState.Running or DeploymentState.Paused))
            return Refuse(user, "abort", $"{Id} is {Describe(State)}: nothing to abort", at);
        var during = ExecutionStarted;
        var from = State;
        State = DeploymentState.Aborted;
        Record(at, user, during
            ? $"aborted during {Phase?.Title() ?? "execution"} ({from}): the run stops at the next statement boundary, nothing is rolled back"
            : $"aborted before execution ({from}): the database was not touched");
        return new ControlOutcome(true, during ? "aborting: the run stops at the next statement boundary; nothing is rolled back" : "aborted: nothing ran");
    }

    /// <summary><c>rollback</c>: needs a permitted role and a confirmation (<c>--confirm</c> or the ⏪ reaction on the prompt).</summary>
    public ControlOutcome Rollback(string user, IReadOnlyCollection<string> groups, bool confirmed, DateTimeOffset at)
    {
        if (_permissions.Refusal(user, groups, DeploymentAction.Rollback) is { } refusal)
            return Refuse(user, "rollback", refusal, at);
        if (Migration.Rollback is null)
            return Refuse(user, "rollback", $"{Migration.Id} has no rollback script", at);
        // A rollback that failed (or could not start) may be asked again: the rollback scripts are written to be re-run.
        if (State is not (DeploymentState.Running or DeploymentState.Paused or DeploymentState.Monitoring or DeploymentState.Failed or DeploymentState.Completed or DeploymentState.RollbackFailed))
            return Refuse(user, "rollback", $"{Id} is {Describe(State)}: nothing to roll back", at);
        if (!confirmed)
        {
            Record(at, user, "rollback requested: awaiting confirmation (--confirm, or ⏪ on the prompt within 5 minutes)", counted: false);
            return new ControlOutcome(false, $"confirm with `/migrate rollback {Id} --confirm`, or react ⏪ on the prompt within 5 minutes");
        }
        var running = State is DeploymentState.Running or DeploymentState.Paused;
        State = DeploymentState.RollingBack;
        Record(at, user, running ? "rolling back: the forward run is cancelled first" : "rolling back");
        return new ControlOutcome(true, running ? "cancelling the forward run, then rolling back" : "rolling back");
    }

    /// <summary>
    /// The process running this deployment died (or was killed) mid-run, and another one took it over: the deployment waits, paused,
    /// for a person to <c>resume</c> (the run continues after what the journal shows as done) or <c>rollback</c>.
    /// </summary>
    public void Interrupted(string what, DateTimeOffset at)
    {
        if (State is not (DeploymentState.Running or DeploymentState.Paused))
            throw new InvalidOperationException($"{Id} is {Describe(State)}: no run to have been interrupted");
        State = DeploymentState.Paused;
        Record(at, "bot", $"interrupted: {what}; paused until someone resumes or rolls back");
    }

    /// <summary>The runbook's verdict.</summary>
    /// <param name="monitorUntil">When post-deployment monitoring ends (a success is Monitoring until then); null: Completed at once.</param>
    public void Finished(bool succeeded, IReadOnlyList<string> reasons, DateTimeOffset at, DateTimeOffset? monitorUntil = null)
    {
        if (State is DeploymentState.RollingBack or DeploymentState.Aborted)
            return;   // a rollback or an abort already decided what this run's end means
        var from = State;
        State = !succeeded ? DeploymentState.Failed : monitorUntil is null ? DeploymentState.Completed : DeploymentState.Monitoring;
        Phase = null;
        Record(at, "bot", !succeeded ? $"verdict: failed — {string.Join("; ", reasons)}"
            : monitorUntil is { } until ? $"verdict: success ({from} → Monitoring): the rollback triggers are watched until {until:yyyy-MM-dd HH:mm}Z"
            : $"verdict: success ({from} → Completed)");
    }

    /// <summary>Post-deployment monitoring ended (its report is posted): Completed.</summary>
    public void MonitoringFinished(string summary, DateTimeOffset at) =>
        Move(DeploymentState.Monitoring, DeploymentState.Completed, at, "bot", $"post-deployment monitoring ended: {summary}");

    /// <summary>
    /// The bot itself rolls back: a rollback trigger held and the policy says so (at once, or nobody answered the prompt in time).
    /// False, with nothing changed, when there is nothing to roll back any more.
    /// </summary>
    public bool RollBackByItself(string why, DateTimeOffset at)
    {
        if (Migration.Rollback is null || State is not (DeploymentState.Running or DeploymentState.Paused or DeploymentState.Monitoring or DeploymentState.Failed))
            return false;
        var running = State is DeploymentState.Running or DeploymentState.Paused;
        State = DeploymentState.RollingBack;
        Record(at, "bot", $"rolling back by itself: {why}{(running ? " (the forward run is cancelled first)" : "")}");
        return true;
    }

    public void RollbackFinished(bool verified, string detail, DateTimeOffset at)
    {
        if (State != DeploymentState.RollingBack)
            throw new InvalidOperationException($"{Id} is {Describe(State)}: no rollback was running");
        State = verified ? DeploymentState.RolledBack : DeploymentState.RollbackFailed;
        Record(at, "bot", verified ? $"rolled back: {detail}" : $"rollback failed: {detail}");
    }

    /// <summary>What someone said in the card's thread (lessons learned, a note for the record), kept in the audit trail.</summary>
    public void Said(string who, string text, DateTimeOffset at)
    {
        const int Longest = 2000;
        var said = text.Trim();
        Record(at, who, $"in the thread: {(said.Length > Longest ? said[..Longest] + "…" : said)}");
    }

    /// <summary>A command that only looks (<c>status</c>, <c>history</c>): kept in the trail with who and when, as every command is.</summary>
    public void Looked(string who, string what, DateTimeOffset at) => Record(at, who, what);

    /// <summary>Records a command or reaction that changed nothing (wrong emoji, another message, the bot's own reaction …).</summary>
    public void Ignored(string who, string what, DateTimeOffset at) => Record(at, who, what, counted: false);

    private ControlOutcome Control(string user, IReadOnlyCollection<string> groups, DeploymentAction action, DateTimeOffset at, DeploymentState from,
        DeploymentState to, string done)
    {
        var verb = action.ToString().ToLowerInvariant();
        if (_permissions.Refusal(user, groups, action) is { } refusal)
            return Refuse(user, verb, refusal, at);
        if (State != from)
            return Refuse(user, verb, $"{Id} is {Describe(State)}: {verb} applies to a {Describe(from)} deployment", at);
        State = to;
        Record(at, user, done);
        return new ControlOutcome(true, done);
    }

    private ControlOutcome Refuse(string user, string verb, string why, DateTimeOffset at)
    {
        Record(at, user, $"{verb} refused: {why}", counted: false);
        return new ControlOutcome(false, why);
    }

    private void Move(DeploymentState from, DeploymentState to, DateTimeOffset at, string who, string what)
    {
        if (State != from)
            throw new InvalidOperationException($"{Id} is {Describe(State)}, not {Describe(from)}: cannot {what}");
        State = to;
        Record(at, who, what);
    }

    private void Record(DateTimeOffset at, string who, string what, bool counted = true) => _audit.Add(new AuditEvent(at, who, what, counted));

    /// <summary>The state in words ("awaiting approval").</summary>
    public static string Describe(DeploymentState state) => state switch
    {
        DeploymentState.AwaitingApproval => "awaiting approval",
        DeploymentState.Monitoring => "in post-deployment monitoring",
        DeploymentState.RollingBack => "rolling back",
        DeploymentState.RolledBack => "rolled back",
        DeploymentState.RollbackFailed => "rollback failed",
        _ => state.ToString().ToLowerInvariant(),
    };

    private static string Short(string sha256) => sha256.Length >= 8 ? $"{sha256[..4]}…{sha256[^4..]}" : sha256;
}
