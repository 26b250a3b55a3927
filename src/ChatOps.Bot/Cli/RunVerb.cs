using System.CommandLine;
using ChatOps.Bot.Hosting;
using ChatOps.Core.Execution;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Runbooks;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops run &lt;migration&gt;</c>: the whole runbook against the target, as a timeline.</summary>
public static class RunVerb
{
    public static Command Create()
    {
        var migration = new Argument<string>("migration") { Description = "The migration id (a file <id>.sql in ChatOps:Migrations:Directory)." };
        var target = TargetOption.Create();
        var json = new Option<bool>("--json") { Description = "Write the event stream as JSON lines instead of a timeline." };
        var force = new Option<bool>("--force") { Description = "Run even when the target's history says this migration was applied (or its last rollback did not finish)." };
        var restart = new Option<bool>("--restart") { Description = "Start from the first statement although an earlier run stopped part-way (its journal is discarded; " +
            "needed when the file changed since that run)." };
        var command = new Command("run", "Run the migration's whole runbook against the target: pre-deployment checks, baseline, the migration " +
            "through the lock-safe executor with the sampler watching, index builds, validation, and a verdict against the success criteria. " +
            "The target's chatops.migration_history decides: an applied migration is not run again, a run that stopped part-way resumes after " +
            "its completed statements. Ctrl-C (or SIGTERM) cancels the running statement and cleans up; twice exits at once.")
        {
            migration, target, json, force, restart,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            if (TargetOption.Resolve(parse, target, host.Services.GetRequiredService<IConfiguration>()) is not { } connectionString)
                return ChatOpsCommandLine.UsageError;
            var runner = host.Services.GetRequiredService<MigrationRun>();
            var control = new ExecutionControl();
            using var signals = new OperatorSignals(control, Console.Error);
            return await runner.RunAsync(parse.GetValue(migration)!, connectionString, Console.Out, parse.GetValue(json), cancellationToken,
                new RunOptions(parse.GetValue(force), parse.GetValue(restart), control));
        }));
        return command;
    }
}

/// <summary>How <c>run</c> treats the target's history, and the control its signals press.</summary>
public sealed record RunOptions(bool Force = false, bool Restart = false, ExecutionControl? Control = null);

/// <summary>Loads a migration and its runbook file, runs the runbook, renders it. Shared by <c>run</c> and <c>demo</c>.</summary>
public sealed class MigrationRun(IOptions<MigrationsOptions> migrations, IOptions<ExecutionOptions> execution, IOptions<MonitoringOptions> monitoring, TimeProvider timeProvider)
{
    public async Task<int> RunAsync(string migration, string connectionString, TextWriter output, bool json, CancellationToken cancellationToken, RunOptions? options = null)
    {
        options ??= new RunOptions();
        var files = new MigrationCatalog(migrations.Value.ResolvedDirectory).Find(migration);
        var script = await MigrationCatalog.ReadAsync(files.SqlPath, cancellationToken);
        MigrationRunbook runbook;
        try
        {
            runbook = files.RunbookPath is null
                ? MigrationRunbook.Empty
                : MigrationRunbook.Parse(await File.ReadAllTextAsync(files.RunbookPath, cancellationToken), files.RunbookPath);
        }
        catch (FormatException ex)
        {
            throw new MigrationRefusedException(ex.Message, ex);
        }
        var parsed = SqlScript.Parse(script.Text);
        if (parsed.Statements.Count == 0)
            throw new MigrationRefusedException($"{files.SqlPath} has no statements (empty or comments only): nothing to run.");
        var runId = $"{files.Id[..Math.Min(files.Id.Length, 24)]}-{timeProvider.GetUtcNow():HHmmss}";

        if (!json)
            output.WriteLine($"{files.Id} · sha256 {script.Sha256[..4]}…{script.Sha256[^4..]} · {parsed.Statements.Count} statements → {ConnectionStrings.Describe(connectionString)}");
        var timeline = new RunbookTimeline(output, timeProvider, json);
        var runner = new RunbookRunner(execution.Value, monitoring.Value, timeProvider);
        var result = await runner.RunAsync(new RunbookRequest(connectionString, files.Id, script.Sha256, parsed, runbook, runId, timeline.Render,
            options.Control, AppliedBy: $"{Environment.UserName} (command line)", Force: options.Force, Restart: options.Restart), cancellationToken);
        if (!json)
            Explain(output, files, result);
        return result.Outcome switch
        {
            RunbookOutcome.Succeeded or RunbookOutcome.AlreadyApplied => ExitCodes.Done,
            RunbookOutcome.Refused => ExitCodes.Refused,
            RunbookOutcome.Cancelled => ExitCodes.Cancelled,
            RunbookOutcome.TargetUnavailable => ExitCodes.TargetUnavailable,
            _ => ExitCodes.Failed,
        };
    }

    /// <summary>What the operator can do next, after the timeline.</summary>
    private static void Explain(TextWriter output, MigrationFiles files, RunbookResult result)
    {
        var undo = files.RollbackPath is not null ? $"chatops rollback {files.Id}" : $"(no {files.Id}.rollback.sql: undo by hand)";
        switch (result.Outcome)
        {
            case RunbookOutcome.AlreadyApplied:
                output.WriteLine($"✓ {files.Id} is applied already on this database: nothing to do (--force runs it again).");
                break;
            case RunbookOutcome.Cancelled when result.Execution is { } e:
                var stoppedAt = e.StatementsRun;
                output.WriteLine($"■ CANCELLED: {stoppedAt} statement(s) of this run completed before the stop; the statement running then was cancelled " +
                                 "and rolled back by the server (an INVALID index it left was dropped).");
                output.WriteLine($"   To continue: chatops run {files.Id} (resumes after the completed statements) · To undo: {undo}");
                break;
            case RunbookOutcome.Cancelled:
                output.WriteLine($"■ CANCELLED before the migration's statements ran: the target is unchanged. To start again: chatops run {files.Id}");
                break;
            case RunbookOutcome.Failed when result.Execution is { StatementsRun: > 0 } or { Succeeded: true }:
                output.WriteLine($"   To undo: {undo} · To resume after fixing the cause: chatops run {files.Id}");
                break;
        }
    }
}
