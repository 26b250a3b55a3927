using System.Diagnostics;
using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Workload;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary>The demo: a throwaway PostgreSQL with demo data and an application workload, and the whole runbook.</summary>
public sealed class Demo(TextWriter output, IOptions<MigrationsOptions> migrations, MigrationRun migrationRun, TimeProvider timeProvider, ILogger<Demo> logger)
{
    public async Task<int> RunAsync(string migrationName, int rows, string? connectionString, CancellationToken cancellationToken)
    {
        // Refuse a bad name before starting anything.
        var files = new MigrationCatalog(migrations.Value.ResolvedDirectory).Find(migrationName);

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
        output.WriteLine($"ChatOps demo · {files.Id}");
        Step($"PostgreSQL: {server.Description}", clock);

        var database = $"chatops_demo_{timeProvider.GetUtcNow():yyyyMMdd_HHmmss}_{Environment.ProcessId}";
        clock.Restart();
        await DatabaseAdmin.CreateAsync(server.ConnectionString, database, template: null, cancellationToken);
        try
        {
            var target = ConnectionStrings.WithDatabase(server.ConnectionString, database);
            await DemoDatabase.CreateAsync(target, rows, cancellationToken);
            Step($"database {database}: demo schema, {rows:N0} contacts in {DemoDatabase.OrganizationsFor(rows):N0} organisations", clock);

            await using var workload = new ApplicationWorkload(target);
            workload.Start();
            output.WriteLine("✓ application workload running (4 sessions \"demo-app\": searches, reads, updates, inserts)");

            var exit = await migrationRun.RunAsync(files.Id, target, output, json: false, cancellationToken);

            var summary = workload.Summary;
            output.WriteLine();
            output.WriteLine($"Application during the run: {summary.Transactions:N0} transactions, {summary.Failures} failed, " +
                             $"slowest {summary.MaxLatency.TotalMilliseconds:0} ms{(summary.LastError is { } e ? $" (last error: {e})" : "")}");
            return exit;
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
