using System.CommandLine;
using ChatOps.Bot.Hosting;
using ChatOps.Core.Execution;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Runbooks;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops rollback &lt;migration&gt;</c>: the rollback script through the executor, each step timed, then verified.</summary>
public static class RollbackVerb
{
    public static Command Create()
    {
        var migration = new Argument<string>("migration") { Description = "The migration whose <id>.rollback.sql to run." };
        var target = TargetOption.Create();
        var force = new Option<bool>("--force") { Description = "Roll back even when the target's history says there is nothing to roll back (never applied, or rolled back already)." };
        var command = new Command("rollback", "Run the migration's rollback script against the target through the lock-safe executor, " +
            "under the target's run lock, each step timed, then verify in the catalog that each step took effect; report the total time. " +
            "The target's chatops.migration_history says when there is nothing to roll back. Ctrl-C cancels the running statement; twice exits at once.")
        {
            migration, target, force,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            if (TargetOption.Resolve(parse, target, host.Services.GetRequiredService<IConfiguration>()) is not { } connectionString)
                return ChatOpsCommandLine.UsageError;
            var files = new MigrationCatalog(host.Services.GetRequiredService<IOptions<MigrationsOptions>>().Value.ResolvedDirectory).Find(parse.GetValue(migration)!);
            if (files.RollbackPath is null)
            {
                Console.Error.WriteLine($"{files.Id} has no rollback script ({files.Id}.rollback.sql).");
                return ChatOpsCommandLine.UsageError;
            }
            var time = host.Services.GetRequiredService<TimeProvider>();
            var script = await MigrationCatalog.ReadAsync(files.RollbackPath, cancellationToken);
            Console.WriteLine($"Rolling back {files.Id} · {Path.GetFileName(files.RollbackPath)} · sha256 {script.Sha256[..4]}…{script.Sha256[^4..]}");
            var timeline = new Timeline(Console.Out, time);
            var control = new ExecutionControl();
            using var signals = new OperatorSignals(control, Console.Error);
            var result = await new RollbackRunner(host.Services.GetRequiredService<IOptions<ExecutionOptions>>().Value, time)
                .RunAsync(new RollbackRequest(connectionString, files.Id, script.Sha256, SqlScript.Parse(script.Text), $"rollback-{time.GetUtcNow():HHmmss}",
                    timeline.Render, control, $"{Environment.UserName} (command line)", parse.GetValue(force)), cancellationToken);
            if (result.NothingToDo is { } why)
            {
                Console.WriteLine($"✓ {why}");
                return ExitCodes.Done;
            }
            if (result.Note is { } note)
                Console.WriteLine($"   ℹ {note}");
            var execution = result.Execution!;
            foreach (var check in result.Checks)
                Console.WriteLine($"   {(check.Holds ? "✅" : "❌")} {check.What}");
            Console.WriteLine(result.Succeeded
                ? $"⏪ ROLLED BACK in {Durations.Short(execution.Duration)} ({result.Checks.Count} effects verified)"
                : execution.Outcome == RunOutcome.Cancelled
                    ? $"■ rollback CANCELLED after {Durations.Short(execution.Duration)}: {execution.StatementsRun} step(s) done; run `chatops rollback {files.Id}` again to finish it"
                    : $"❌ rollback {(execution.Succeeded ? "ran but is not verified" : "failed")} after {Durations.Short(execution.Duration)}");
            return result.Succeeded ? ExitCodes.Done : execution.Outcome == RunOutcome.Cancelled ? ExitCodes.Cancelled : ExitCodes.Failed;
        }));
        return command;
    }
}
