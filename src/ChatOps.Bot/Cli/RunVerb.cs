using System.CommandLine;
using ChatOps.Bot.Hosting;
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
        var command = new Command("run", "Run the migration's whole runbook against the target: pre-deployment checks, baseline, the migration " +
            "through the lock-safe executor with the sampler watching, index builds, validation, and a verdict against the success criteria. " +
            "Exit 0 on success, 1 with the reasons otherwise.")
        {
            migration, target, json,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            if (TargetOption.Resolve(parse, target, host.Services.GetRequiredService<IConfiguration>()) is not { } connectionString)
                return ChatOpsCommandLine.UsageError;
            var runner = host.Services.GetRequiredService<MigrationRun>();
            return await runner.RunAsync(parse.GetValue(migration)!, connectionString, Console.Out, parse.GetValue(json), cancellationToken);
        }));
        return command;
    }
}

/// <summary>Loads a migration and its runbook file, runs the runbook, renders it. Shared by <c>run</c> and <c>demo</c>.</summary>
public sealed class MigrationRun(IOptions<MigrationsOptions> migrations, IOptions<ExecutionOptions> execution, IOptions<MonitoringOptions> monitoring, TimeProvider timeProvider)
{
    public async Task<int> RunAsync(string migration, string connectionString, TextWriter output, bool json, CancellationToken cancellationToken)
    {
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
        var result = await runner.RunAsync(new RunbookRequest(connectionString, files.Id, script.Sha256, parsed, runbook, runId, timeline.Render), cancellationToken);
        if (!json && !result.Succeeded && files.RollbackPath is not null && result.Execution is { StatementsRun: > 0 })
            output.WriteLine($"   To undo: chatops rollback {files.Id} --target …");
        return result.Succeeded ? 0 : 1;
    }
}
