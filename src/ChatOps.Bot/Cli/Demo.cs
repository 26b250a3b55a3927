using System.Diagnostics;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Launching;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Probes;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary>The demo's steps, written to <paramref name="output"/> as a timeline.</summary>
public sealed class Demo(TextWriter output, IOptions<MigrationsOptions> migrations, IOptions<ExecutionOptions> execution, TimeProvider timeProvider, ILogger<Demo> logger)
{
    public async Task<int> RunAsync(string migrationName, int rows, string? connectionString, CancellationToken cancellationToken)
    {
        var catalog = new MigrationCatalog(migrations.Value.ResolvedDirectory);
        var files = catalog.Find(migrationName);
        var script = await MigrationCatalog.ReadAsync(files.SqlPath, cancellationToken);
        var parsed = SqlScript.Parse(script.Text);
        var runbook = files.RunbookPath is null
            ? MigrationRunbook.Empty
            : MigrationRunbook.Parse(await File.ReadAllTextAsync(files.RunbookPath, cancellationToken), files.RunbookPath);

        output.WriteLine($"ChatOps demo · {files.Id} · sha256 {script.Sha256[..4]}…{script.Sha256[^4..]} · {parsed.Statements.Count} statements");

        var clock = Stopwatch.StartNew();
        ThrowawayPostgres server;
        try
        {
            server = await new PostgresLauncher(logger).StartAsync(connectionString, cancellationToken);
        }
        catch (PostgresUnavailableException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 1;
        }
        await using var _ = server;
        Step($"PostgreSQL: {server.Description}", clock);

        var database = $"chatops_demo_{timeProvider.GetUtcNow():yyyyMMdd_HHmmss}_{Environment.ProcessId}";
        clock.Restart();
        await DatabaseAdmin.CreateAsync(server.ConnectionString, database, template: null, cancellationToken);
        try
        {
            var target = ConnectionStrings.WithDatabase(server.ConnectionString, database);
            await DemoDatabase.CreateAsync(target, rows, cancellationToken);
            await DemoDatabase.InstallMonitoringAsync(target, cancellationToken);
            Step($"database {database}: demo schema, {rows:N0} contacts in {DemoDatabase.OrganizationsFor(rows):N0} organisations, monitoring functions", clock);

            output.WriteLine("Migration, statement by statement, through the lock-safe executor:");
            var timeline = new Timeline(output, timeProvider);
            var executor = new LockSafeExecutor(execution.Value, timeProvider);
            var result = await executor.RunAsync(new ExecutionRequest(target, parsed, $"demo-{Environment.ProcessId}", timeline.Render), cancellationToken);
            if (!result.Succeeded)
            {
                output.WriteLine($"✗ migration failed after {result.StatementsRun} statement(s): {result.Failure!.Message}");
                return 1;
            }
            output.WriteLine($"✓ migration: {result.StatementsRun} statements in {result.Duration.TotalSeconds:0.000} s");

            var validations = await ValidationProbe.RunAsync(target, runbook.Validations, cancellationToken);
            output.WriteLine("Checklist validations:");
            foreach (var v in validations)
                output.WriteLine($"  {(v.Ok ? "✅" : "❌")} {v.Name}: {v.Detail}");
            var failed = validations.Count(v => !v.Ok);
            output.WriteLine(failed == 0
                ? $"✅ {files.Id} applied and validated ({validations.Count} checks)."
                : $"❌ {failed} of {validations.Count} validation(s) failed.");
            return failed == 0 ? 0 : 1;
        }
        finally
        {
            // On a throwaway server the whole cluster goes; on a given server, only our scratch database.
            if (connectionString is not null)
                await DatabaseAdmin.DropAsync(server.ConnectionString, database, CancellationToken.None);
        }
    }

    private void Step(string what, Stopwatch clock) => output.WriteLine($"✓ {what}  ({clock.Elapsed.TotalSeconds:0.0} s)");
}
