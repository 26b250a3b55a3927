namespace ChatOps.Core.Migrations;

/// <summary>Whether a history entry records running a migration or rolling it back.</summary>
public enum HistoryKind
{
    Run,
    Rollback,
}

/// <summary>How a recorded run or rollback ended. <see cref="Running"/> with no live run lock means its process died.</summary>
public enum HistoryOutcome
{
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

/// <summary>One run or rollback of a migration on a target, as the target's <c>chatops.migration_history</c> keeps it.</summary>
/// <param name="Client">Where the bot ran: host name and process id, so an orphaned session can be traced to its process.</param>
/// <param name="Completed">Statements the journal recorded as completed by the time the entry was written.</param>
/// <param name="VerdictOk">Whether the run's verdict was success; null for a rollback or a run that reached none.</param>
public sealed record HistoryEntry(
    long Id,
    string Migration,
    string Sha256,
    HistoryKind Kind,
    string RunId,
    string AppliedBy,
    string Client,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    HistoryOutcome Outcome,
    string? Detail,
    int Completed = 0,
    bool? VerdictOk = null)
{
    /// <summary>"applied … by … (sha256 ab12…cd34)": for people.</summary>
    public string Describe() =>
        $"{(Kind == HistoryKind.Run ? "run" : "rollback")} {Outcome.ToString().ToLowerInvariant()} {StartedAt:yyyy-MM-dd HH:mm:ss}Z by {AppliedBy} " +
        $"(sha256 {Short(Sha256)}, run {RunId})";

    internal static string Short(string sha256) => sha256.Length >= 8 ? $"{sha256[..4]}…{sha256[^4..]}" : sha256;
}

/// <summary>What <c>run</c> does given the target's history of a migration.</summary>
public abstract record RunDecision
{
    /// <summary>Start from the first statement (the journal, if any, is discarded).</summary>
    public sealed record Fresh(string Why) : RunDecision;

    /// <summary>Continue after the statements the journal recorded as completed by an earlier run of the same file.</summary>
    /// <param name="FileChanged">The file changed after the completed statements (a fix of the one that failed): the new text runs from there.</param>
    public sealed record Resume(HistoryEntry Earlier, bool FileChanged = false) : RunDecision;

    /// <summary>The decision in a word, for machines: fresh, resume, already-applied, refused.</summary>
    public string Name => this switch
    {
        Fresh => "fresh",
        Resume => "resume",
        AlreadyApplied => "already-applied",
        AppliedButFailed => "applied-verdict-failed",
        _ => "refused",
    };

    /// <summary>The decision for people.</summary>
    public string Describe() => this switch
    {
        Fresh f => $"a fresh run: {f.Why}",
        Resume r => $"resuming the run of {r.Earlier.StartedAt:yyyy-MM-dd HH:mm:ss}Z by {r.Earlier.AppliedBy} ({r.Earlier.Outcome.ToString().ToLowerInvariant()}) " +
                    $"after its {r.Earlier.Completed} completed statement(s)" +
                    (r.FileChanged ? "; the file changed after them, and the new text runs from there" : ""),
        AlreadyApplied a => $"already applied: {a.Applied.Describe()}. Nothing to do (--force runs it again)",
        AppliedButFailed f => $"applied already, but its verdict failed ({f.Applied.Describe()}; {f.Applied.Detail}): roll it back (`rollback`), " +
                              "or pass --force to run its runbook again",
        Refused x => $"refused: {x.Why}",
        _ => Name,
    };

    /// <summary>Nothing to do: this version of the file was applied already.</summary>
    public sealed record AlreadyApplied(HistoryEntry Applied) : RunDecision;

    /// <summary>Applied, but its verdict failed: not a success to report again, and nothing to run again without --force.</summary>
    public sealed record AppliedButFailed(HistoryEntry Applied) : RunDecision;

    /// <summary>Refused before touching the target, with what to do instead.</summary>
    public sealed record Refused(string Why) : RunDecision;

    /// <summary>
    /// The rules: an applied migration is not applied again (<paramref name="force"/> does); a failed, cancelled or
    /// interrupted run of the same file resumes after its completed statements (<paramref name="restart"/> starts over);
    /// a changed file is never resumed into.
    /// </summary>
    /// <param name="last">The migration's latest history entry on the target, or null when it never ran there.</param>
    /// <param name="completedUnchanged">Every statement the earlier run completed reads the same in the file now (a fix to the
    /// statement that failed, or to later ones, still resumes; a change to what already ran does not).</param>
    public static RunDecision For(HistoryEntry? last, string sha256, bool force, bool restart, bool completedUnchanged = false)
    {
        if (last is null)
            return new Fresh("never applied to this database");
        var same = string.Equals(last.Sha256, sha256, StringComparison.OrdinalIgnoreCase);
        if (last.Kind == HistoryKind.Rollback)
            return last.Outcome == HistoryOutcome.Succeeded || force || restart
                ? new Fresh(last.Outcome == HistoryOutcome.Succeeded ? "rolled back since it was last applied" : "--force after an unfinished rollback")
                : new Refused($"its last rollback did not finish ({last.Describe()}): run `rollback` again to complete it, or pass --force to run the migration anyway");
        if (last.Outcome == HistoryOutcome.Succeeded)
        {
            if (force)
                return new Fresh("--force: applied already, run again");
            return same
                ? last.VerdictOk == false ? new AppliedButFailed(last) : new AlreadyApplied(last)
                : new Refused($"another version of the file was applied ({last.Describe()}); the file changed since (now sha256 {HistoryEntry.Short(sha256)}). " +
                              "Write the change as a new migration, or pass --force to run this file again");
        }
        // Failed, cancelled, interrupted — or "running" with the run lock free, which means its process died.
        if (restart)
            return new Fresh("--restart: the earlier run's journal is discarded");
        return same || completedUnchanged
            ? new Resume(last, !same)
            : new Refused($"an earlier run stopped part-way ({last.Describe()}, {last.Completed} statement(s) completed) " +
                          $"and the file changed since in what already ran (now sha256 {HistoryEntry.Short(sha256)}): resuming would mix two versions. " +
                          "Roll back first, or pass --restart to run the new file from its first statement");
    }
}

/// <summary>What <c>rollback</c> does given the target's history of a migration.</summary>
public abstract record RollbackDecision
{
    public sealed record Proceed : RollbackDecision;

    /// <summary>Nothing to roll back (never applied, or rolled back already): say so and exit 0.</summary>
    public sealed record NothingToDo(string Why) : RollbackDecision;

    /// <param name="last">The migration's latest history entry on the target, or null when it never ran there.</param>
    public static RollbackDecision For(string migration, HistoryEntry? last, bool force)
    {
        if (force)
            return new Proceed();
        if (last is null)
            return new NothingToDo($"nothing to roll back: {migration} was never run on this database (no entry in chatops.migration_history; --force rolls back anyway)");
        if (last is { Kind: HistoryKind.Rollback, Outcome: HistoryOutcome.Succeeded })
            return new NothingToDo($"nothing to roll back: {migration} was rolled back already ({last.Describe()}; --force rolls back again)");
        return new Proceed();
    }
}
