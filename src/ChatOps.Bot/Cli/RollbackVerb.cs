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
        var command = new Command("rollback", "Run the migration's rollback script against the target through the lock-safe executor, " +
            "each step timed, then verify in the catalog that each step took effect; report the total time.")
        {
            migration, target,
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
            var result = await new RollbackRunner(host.Services.GetRequiredService<IOptions<ExecutionOptions>>().Value, time)
                .RunAsync(connectionString, SqlScript.Parse(script.Text), $"rollback-{time.GetUtcNow():HHmmss}", timeline.Render, cancellationToken);
            foreach (var check in result.Checks)
                Console.WriteLine($"   {(check.Holds ? "✅" : "❌")} {check.What}");
            Console.WriteLine(result.Succeeded
                ? $"⏪ ROLLED BACK in {Durations.Short(result.Execution.Duration)} ({result.Checks.Count} effects verified)"
                : $"❌ rollback {(result.Execution.Succeeded ? "ran but is not verified" : "failed")} after {Durations.Short(result.Execution.Duration)}");
            return result.Succeeded ? 0 : 1;
        }));
        return command;
    }
}
