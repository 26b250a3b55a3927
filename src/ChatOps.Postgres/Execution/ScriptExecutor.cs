using System.Diagnostics;
using ChatOps.Core.Execution;
using ChatOps.Core.Scripts;
using Npgsql;

namespace ChatOps.Postgres.Execution;

/// <summary>The outcome of a script run.</summary>
public sealed record ExecutionResult(bool Succeeded, int StatementsRun, TimeSpan Duration, StatementFailed? Failure);

/// <summary>
/// Runs a script's statements in order on one dedicated connection named <c>chatops:&lt;run id&gt;</c>,
/// each statement as its own command, honouring the script's transaction blocks.
/// </summary>
public sealed class ScriptExecutor(TimeProvider timeProvider)
{
    /// <summary>Runs <paramref name="script"/> against <paramref name="targetConnectionString"/>, reporting to <paramref name="onEvent"/>.</summary>
    public async Task<ExecutionResult> RunAsync(string targetConnectionString, SqlScript script, string runId,
        Action<ExecutionEvent> onEvent, CancellationToken cancellationToken)
    {
        var cs = new NpgsqlConnectionStringBuilder(targetConnectionString)
        {
            ApplicationName = $"chatops:{runId}",
            Pooling = false,          // a dedicated session: its settings and locks must not leak into a pool
            CommandTimeout = 0,
        };
        await using var connection = new NpgsqlConnection(cs.ConnectionString);
        await connection.OpenAsync(cancellationToken);

        SqlStatement? current = null;
        connection.Notice += (_, e) => onEvent(new NoticeReceived(timeProvider.GetUtcNow(), current, e.Notice.Severity, e.Notice.MessageText));

        var runStarted = Stopwatch.GetTimestamp();
        var run = 0;
        foreach (var statement in script.Statements)
        {
            current = statement;
            onEvent(new StatementStarted(timeProvider.GetUtcNow(), statement, 1));
            var started = Stopwatch.GetTimestamp();
            try
            {
                await using var command = new NpgsqlCommand(statement.Text, connection);
                var rows = await command.ExecuteNonQueryAsync(cancellationToken);
                run++;
                onEvent(new StatementFinished(timeProvider.GetUtcNow(), statement, Stopwatch.GetElapsedTime(started), TimeSpan.Zero, rows, 1));
            }
            catch (PostgresException ex)
            {
                var failure = new StatementFailed(timeProvider.GetUtcNow(), statement, ex.SqlState, ex.MessageText);
                onEvent(failure);
                return new ExecutionResult(false, run, Stopwatch.GetElapsedTime(runStarted), failure);
            }
        }
        return new ExecutionResult(true, run, Stopwatch.GetElapsedTime(runStarted), null);
    }
}
