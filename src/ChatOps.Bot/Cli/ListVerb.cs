using System.CommandLine;
using ChatOps.Bot.Hosting;
using ChatOps.Core.Migrations;
using ChatOps.Postgres;
using ChatOps.Postgres.History;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops list [--target …]</c>: the migrations found, with their files, and with a target, what its history says of each.</summary>
public static class ListVerb
{
    public static Command Create()
    {
        var target = TargetOption.Create();
        target.Description = "Also show each migration's state on this database (from its chatops.migration_history): applied, failed part-way, rolled back, never applied. " +
                             "Without it, ConnectionStrings:Target is read when set.";
        var command = new Command("list", "List the migrations in ChatOps:Migrations:Directory, with their rollback and runbook files, and — with a target — their state there.")
        {
            target,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            var directory = host.Services.GetRequiredService<IOptions<MigrationsOptions>>().Value.ResolvedDirectory;
            var migrations = new MigrationCatalog(directory).List();
            var connectionString = parse.GetValue(target) is { Length: > 0 } given ? given : host.Services.GetRequiredService<IConfiguration>().GetConnectionString("Target");

            IReadOnlyDictionary<string, HistoryEntry>? latest = null;
            if (!string.IsNullOrWhiteSpace(connectionString))
            {
                await using var history = await TargetHistory.OpenAsync(connectionString, "list", cancellationToken);
                latest = await history.LatestAsync(cancellationToken);
            }

            Console.WriteLine($"{migrations.Count} migration(s) in {directory}{(latest is null ? "" : $" · state on {ConnectionStrings.Describe(connectionString!)}")}");
            foreach (var m in migrations)
            {
                var files = $"rollback: {(m.RollbackPath is null ? "no" : "yes")}  runbook: {(m.RunbookPath is null ? "no" : "yes")}";
                if (latest is null)
                {
                    Console.WriteLine($"  {m.Id}  {files}");
                    continue;
                }
                var sha = (await MigrationCatalog.ReadAsync(m.SqlPath, cancellationToken)).Sha256;
                Console.WriteLine($"  {m.Id}  {files}");
                Console.WriteLine($"      {State(latest.GetValueOrDefault(m.Id), sha, m.Id)}");
            }
            return ExitCodes.Done;
        }));
        return command;
    }

    /// <summary>What the history says, and what <c>run</c> would do with the file as it is now.</summary>
    internal static string State(HistoryEntry? last, string sha256, string id) => last switch
    {
        null => "never applied here",
        { Kind: HistoryKind.Rollback, Outcome: HistoryOutcome.Succeeded } => $"rolled back {last.StartedAt:yyyy-MM-dd HH:mm}Z by {last.AppliedBy} — `run` applies it again",
        { Kind: HistoryKind.Rollback } => $"rollback {Word(last.Outcome)} {last.StartedAt:yyyy-MM-dd HH:mm}Z by {last.AppliedBy} — `chatops rollback {id}` to finish it",
        { Outcome: HistoryOutcome.Succeeded } when Same(last, sha256) => $"applied {last.FinishedAt ?? last.StartedAt:yyyy-MM-dd HH:mm}Z by {last.AppliedBy} ({last.Detail ?? "no verdict recorded"})",
        { Outcome: HistoryOutcome.Succeeded } => $"applied {last.FinishedAt ?? last.StartedAt:yyyy-MM-dd HH:mm}Z by {last.AppliedBy}, but the file changed since (sha256 then {Short(last.Sha256)}, now {Short(sha256)})",
        { Outcome: HistoryOutcome.Running } => $"a run by {last.AppliedBy} started {last.StartedAt:yyyy-MM-dd HH:mm}Z is running, or its process died ({last.Client}); {last.Completed} statement(s) completed",
        _ => $"{Word(last.Outcome)} {last.StartedAt:yyyy-MM-dd HH:mm}Z by {last.AppliedBy} after {last.Completed} completed statement(s) — `chatops run {id}` resumes after them" +
             (Same(last, sha256) ? "" : " if they are unchanged in the file"),
    };

    private static bool Same(HistoryEntry entry, string sha256) => string.Equals(entry.Sha256, sha256, StringComparison.OrdinalIgnoreCase);
    private static string Short(string sha256) => sha256.Length >= 8 ? $"{sha256[..4]}…{sha256[^4..]}" : sha256;
    private static string Word(HistoryOutcome outcome) => outcome.ToString().ToLowerInvariant();
}
