using ChatOps.Core.Execution;
using ChatOps.Core.Migrations;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.History;
using ChatOps.Postgres.Options;
using Npgsql;

namespace ChatOps.Postgres.Runbooks;

/// <summary>One thing the rollback should have achieved, and whether the catalog agrees.</summary>
public sealed record RollbackCheck(string What, bool Holds);

/// <summary>A rollback of <paramref name="Migration"/> with its rollback script.</summary>
/// <param name="Sha256">The rollback script's SHA-256, recorded in the history.</param>
/// <param name="Force">Roll back even when the history says there is nothing to roll back.</param>
public sealed record RollbackRequest(
    string TargetConnectionString,
    string Migration,
    string Sha256,
    SqlScript Script,
    string RunId,
    Action<ExecutionEvent> OnEvent,
    ExecutionControl? Control = null,
    string AppliedBy = "unknown",
    bool Force = false);

/// <param name="NothingToDo">Why nothing was rolled back (never applied here, or rolled back already); null when it ran.</param>
/// <param name="Note">Why it rolled back although the history has no entry (the catalog showed work to undo).</param>
public sealed record RollbackResult(ExecutionResult? Execution, IReadOnlyList<RollbackCheck> Checks, string? NothingToDo = null, string? Note = null)
{
    public bool Succeeded => NothingToDo is not null || (Execution is { Succeeded: true } && Checks.All(c => c.Holds));
}

/// <summary>
/// Runs a rollback script through the lock-safe executor, under the target's run lock, then verifies each statement's
/// effect in the catalog; the target's history decides whether there is anything to roll back and records the outcome.
/// </summary>
public sealed class RollbackRunner(ExecutionOptions options, TimeProvider timeProvider)
{
    public async Task<RollbackResult> RunAsync(RollbackRequest request, CancellationToken cancellationToken)
    {
        await using var session = await TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}", cancellationToken);
        await TargetRunLock.AcquireAsync(session, cancellationToken);
        await using var history = await TargetHistory.OpenAsync(request.TargetConnectionString, request.RunId, cancellationToken);
        var last = await history.LastAsync(request.Migration, cancellationToken);
        string? note = null;
        if (RollbackDecision.For(request.Migration, last, request.Force) is RollbackDecision.NothingToDo nothing)
        {
            if (last is not null)
                return new RollbackResult(null, [], nothing.Why);
            // No record at all: a migration applied with psql, or before the history existed, is still in the catalog.
            // The rollback's own postconditions say whether it would change anything.
            var pending = (await EffectsAsync(session, request.Script, cancellationToken)).Where(c => !c.Holds).Select(c => c.What).ToList();
            if (pending.Count == 0)
                return new RollbackResult(null, [], nothing.Why + "; the catalog agrees (every effect of the rollback script holds already)");
            note = $"no entry in chatops.migration_history, but the catalog shows what the rollback undoes (not yet: {string.Join("; ", pending)}): rolling back";
        }

        await history.EnsureAsync(cancellationToken);
        var id = await history.BeginAsync(request.Migration, request.Sha256, HistoryKind.Rollback, request.RunId, request.AppliedBy, cancellationToken);
        var result = await new LockSafeExecutor(options, timeProvider).RunAsync(
            new ExecutionRequest(request.TargetConnectionString, request.Script, request.RunId, request.OnEvent, Control: request.Control, Session: session),
            cancellationToken);
        var checks = new List<RollbackCheck>();
        if (result.Succeeded)
        {
            try
            {
                await using var connection = await TargetSession.OpenAsync(request.TargetConnectionString, $"chatops:{request.RunId}:verify", cancellationToken);
                checks.AddRange(await EffectsAsync(connection, request.Script, cancellationToken));
            }
            catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The rollback ran: a verification that cannot be made is a failure after touching the target, not "unreachable".
                checks.Add(new RollbackCheck($"the catalog could not be read to verify the rollback ({ex.Message})", false));
            }
        }
        var rolledBack = new RollbackResult(result, checks, Note: note);
        var outcome = rolledBack.Succeeded ? HistoryOutcome.Succeeded : result.Outcome == RunOutcome.Cancelled ? HistoryOutcome.Cancelled : HistoryOutcome.Failed;
        try
        {
            // A verified rollback leaves nothing to resume: the next run starts from the first statement.
            if (rolledBack.Succeeded)
                await history.DiscardJournalAsync(request.Migration, CancellationToken.None);
            await history.FinishAsync(id, outcome, rolledBack.Succeeded ? $"{checks.Count} effect(s) verified"
                : result.Failure?.Message ?? string.Join("; ", checks.Where(c => !c.Holds).Select(c => $"not verified: {c.What}")), CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // The target went away after the rollback: the entry stays "running" and the next run marks it interrupted.
        }
        return rolledBack;
    }

    /// <summary>Each effect the rollback script has (its statements' postconditions), and whether the catalog shows it now.</summary>
    private static async Task<List<RollbackCheck>> EffectsAsync(NpgsqlConnection connection, SqlScript script, CancellationToken cancellationToken)
    {
        var catalog = new TargetCatalog(connection);
        var effects = new List<RollbackCheck>();
        foreach (var postcondition in StatementAnalyzer.AnalyzeScript(script).SelectMany(a => a.Postconditions))
            effects.Add(new RollbackCheck(postcondition.Describe(), await catalog.JudgeAsync([postcondition], cancellationToken) == PostconditionVerdict.Done));
        return effects;
    }
}
