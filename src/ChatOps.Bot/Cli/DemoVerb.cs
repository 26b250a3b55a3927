using System.CommandLine;
using ChatOps.Bot.Hosting;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops demo</c>: the seed migration on a throwaway PostgreSQL with demo data.</summary>
public static class DemoVerb
{
    public const string SeedMigration = "20250803_add_analytics_tracking_optimized";

    public static Command Create()
    {
        var rows = new Option<int?>("--rows") { Description = "Contacts to generate (default ChatOps:Demo:Rows, 50,000)." };
        var connection = new Option<string?>("--connection")
        {
            Description = "Use this PostgreSQL server (a scratch database is created on it and dropped after) instead of starting a throwaway one.",
        };
        var migration = new Option<string>("--migration") { Description = "The migration to run.", DefaultValueFactory = _ => SeedMigration };
        var command = new Command("demo",
            "Start a throwaway PostgreSQL (given server, Docker, or local binaries), create the demo schema and data, " +
            "run the migration statement by statement and check the result. Needs no configuration.")
        {
            rows, connection, migration,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            var requestedRows = parse.GetValue(rows) ?? host.Services.GetRequiredService<IConfiguration>().GetValue("ChatOps:Demo:Rows", 50_000);
            if (requestedRows < 1)
            {
                Console.Error.WriteLine($"--rows must be at least 1 (got {requestedRows}).");
                return ChatOpsCommandLine.UsageError;
            }
            var demo = ActivatorUtilities.CreateInstance<Demo>(host.Services, Console.Out);
            return await demo.RunAsync(parse.GetValue(migration)!, requestedRows, parse.GetValue(connection), cancellationToken);
        }));
        return command;
    }
}
