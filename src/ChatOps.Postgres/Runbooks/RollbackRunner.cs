using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Options;
using Npgsql;

namespace ChatOps.Postgres.Runbooks;

/// <summary>One thing the rollback should have achieved, and whether the catalog agrees.</summary>
public sealed record RollbackCheck(string What, bool Holds);

public sealed record RollbackResult(ExecutionResult Execution, IReadOnlyList<RollbackCheck> Checks)
{
    public bool Succeeded => Execution.Succeeded && Checks.All(c => c.Holds);
}

/// <summary>Runs a rollback script through the lock-safe executor, then verifies each statement's effect in the catalog.</summary>
public sealed class RollbackRunner(ExecutionOptions options, TimeProvider timeProvider)
{
    public async Task<RollbackResult> RunAsync(string targetConnectionString, SqlScript script, string runId, Action<ExecutionEvent> onEvent, CancellationToken cancellationToken)
    {
        var result = await new LockSafeExecutor(options, timeProvider).RunAsync(new ExecutionRequest(targetConnectionString, script, runId, onEvent), cancellationToken);
        var checks = new List<RollbackCheck>();
        if (!result.Succeeded)
            return new RollbackResult(result, checks);

        await using var connection = await TargetSession.OpenAsync(targetConnectionString, $"chatops:{runId}:verify", cancellationToken);
        var catalog = new TargetCatalog(connection);
        foreach (var postcondition in StatementAnalyzer.AnalyzeScript(script).SelectMany(a => a.Postconditions))
            checks.Add(new RollbackCheck(postcondition.Describe(), await catalog.JudgeAsync([postcondition], cancellationToken) == PostconditionVerdict.Done));
        return new RollbackResult(result, checks);
    }
}
