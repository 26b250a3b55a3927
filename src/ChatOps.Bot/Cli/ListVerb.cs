using System.CommandLine;
using ChatOps.Bot.Hosting;
using ChatOps.Postgres.Options;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops list</c>: the migrations found, with whether each has a rollback and a runbook.</summary>
public static class ListVerb
{
    public static Command Create()
    {
        var command = new Command("list", "List the migrations in ChatOps:Migrations:Directory, with their rollback and runbook files.");
        command.SetAction((_, cancellationToken) => ChatOpsCommandLine.GuardAsync(() =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            var directory = host.Services.GetRequiredService<IOptions<MigrationsOptions>>().Value.ResolvedDirectory;
            var catalog = new Postgres.Migrations.MigrationCatalog(directory);
            var migrations = catalog.List();
            Console.WriteLine($"{migrations.Count} migration(s) in {directory}");
            foreach (var m in migrations)
                Console.WriteLine($"  {m.Id}  rollback: {(m.RollbackPath is null ? "no" : "yes")}  runbook: {(m.RunbookPath is null ? "no" : "yes")}");
            return Task.FromResult(0);
        }));
        return command;
    }
}
