using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChatOps.Bot.Hosting;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary><c>chatops plan &lt;migration&gt;</c>: what each statement will lock and what to worry about, from the SQL alone.</summary>
public static class PlanVerb
{
    public static Command Create()
    {
        var migration = new Argument<string>("migration") { Description = "The migration id (a file <id>.sql in ChatOps:Migrations:Directory)." };
        var json = new Option<bool>("--json") { Description = "Write the plan as JSON (a refusal as a JSON error object)." };
        var strict = new Option<bool>("--strict") { Description = "Also the style rules (prefer text, bigint, timestamptz, identity; narrow indexes), as notes." };
        var target = new Option<string?>("--target")
        {
            Description = "Read the target's catalog (read-only) to judge what the SQL alone cannot: the tables behind foreign keys and indexes, " +
                          "whether a type change only widens, each table's estimated rows and whether it is empty. A connection string.",
        };
        var command = new Command("plan", "Show, statement by statement, the lock each takes on which table, what that blocks, " +
            "whether it rewrites the table or can run in a transaction, and linter-style findings. Without --target it touches no database. " +
            "Exit 0: no error-level finding; 1: an error-level finding; 2: refused (unknown migration, unparseable script).")
        {
            migration, json, strict, target,
        };
        command.SetAction((parse, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            var catalog = new MigrationCatalog(host.Services.GetRequiredService<IOptions<MigrationsOptions>>().Value.ResolvedDirectory);
            MigrationFiles files;
            try
            {
                files = catalog.Find(parse.GetValue(migration)!);
            }
            catch (MigrationNotFoundException ex) when (parse.GetValue(json))
            {
                // A refusal, shaped like the unparseable one: a machine reading stdout gets JSON, a person reads stderr.
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    error = "unknown-migration",
                    migration = parse.GetValue(migration),
                    message = ex.Message,
                    available = catalog.List().Select(m => m.Id),
                }));
                await Console.Error.WriteLineAsync(ex.Message);
                return ChatOpsCommandLine.UsageError;
            }
            ScriptText script;
            SqlScript parsed;
            try
            {
                // ReadAsync refuses a script that cannot be split, naming the file: inside the try, so --json still reports it.
                script = await MigrationCatalog.ReadAsync(files.SqlPath, cancellationToken);
                parsed = SqlScript.Parse(script.Text);
            }
            catch (SqlLexer.SqlSyntaxException ex)
            {
                // A refusal: nothing was judged. Machines get it as JSON too.
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(new { error = "unparseable", file = files.SqlPath, message = ex.Message }));
                await Console.Error.WriteLineAsync($"{files.SqlPath}: {ex.Message}");
                return ChatOpsCommandLine.UsageError;
            }
            CatalogFacts? facts = null;
            if (parse.GetValue(target) is { Length: > 0 } connectionString)
            {
                await using var connection = await ChatOps.Postgres.TargetSession.OpenAsync(connectionString, "chatops:plan", cancellationToken);
                facts = await ChatOps.Postgres.Execution.CatalogFactsReader.ReadAsync(connection, cancellationToken);
                // Sizes of the tables the script touches (estimates and emptiness, never a count): read once the plan names them.
                var named = MigrationPlan.For(files.Id, script.Sha256, parsed, facts).Statements
                    .SelectMany(s => s.OwnLocks).Select(l => facts.Qualify(l.Table)).Where(t => t.Schema is not null && facts.Relations.Contains(t));
                facts = await ChatOps.Postgres.Execution.CatalogFactsReader.WithTableSizesAsync(connection, facts, named, cancellationToken);
            }
            var plan = MigrationPlan.For(files.Id, script.Sha256, parsed, facts, parse.GetValue(strict));
            if (parse.GetValue(json))
                Console.WriteLine(PlanJson.Serialize(plan));
            else
                PlanText.Write(plan, Console.Out);
            return plan.Warnings.Any(w => w.Warning.Level == WarningLevel.Error) ? 1 : 0;
        }));
        return command;
    }
}

/// <summary>The plan as a table for people.</summary>
public static class PlanText
{
    public static void Write(MigrationPlan plan, TextWriter output)
    {
        output.WriteLine($"Plan for {plan.Migration} · sha256 {plan.Sha256[..12]} · {plan.Statements.Count} statements · strongest lock {plan.StrongestLock.SqlName()}");
        output.WriteLine();
        output.WriteLine($"{"#",3} {"line",5}  {"statement",-46} {"lock",-24} {"on",-18} {"blocks",-26} {"rewrite",-7} {"in tx",-5}");
        foreach (var s in plan.Statements)
        {
            var locks = s.Locks.Count == 0 ? [new TableLock(new DbObjectName(null, "—"), LockMode.None)] : s.Locks;
            for (var i = 0; i < locks.Count; i++)
            {
                var l = locks[i];
                var first = i == 0;
                output.WriteLine(string.Join(' ',
                    first ? $"{s.Statement.Number,3} {s.Statement.Line,5} " : new string(' ', 10),
                    (first ? s.Statement.Summary(46) : "").PadRight(46),
                    (l.Mode.SqlName() + (s.Inferred && l.Mode != LockMode.None ? "*" : "")).PadRight(24),
                    (l.Mode == LockMode.None ? "—" : l.Table.ToString()).PadRight(18),
                    (l.Mode == LockMode.None ? "—" : l.Mode.Blocks()).PadRight(26),
                    (first ? (s.Rewrites ? "YES" : s.ScansUnderLock ? "scan" : "no") : "").PadRight(7),
                    first ? (s.CanRunInTransaction ? "yes" : "NO") : ""));
            }
        }
        if (plan.Statements.Any(s => s.Inferred))
            output.WriteLine("  * inferred from a DO block's body, including SQL it EXECUTEs");
        if (plan.Tables.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("Tables on the target (planner estimates, not counts):");
            foreach (var t in plan.Tables)
                output.WriteLine($"  {t.Table,-32} {t.Size.Describe() ?? "size unknown (never analysed)"}");
        }

        var warnings = plan.Warnings.Where(w => w.Warning.Level != WarningLevel.Notice).ToList();
        var notices = plan.Warnings.Where(w => w.Warning.Level == WarningLevel.Notice).ToList();
        output.WriteLine();
        output.WriteLine(warnings.Count == 0 ? "No warnings." : $"{warnings.Count} warning(s):");
        foreach (var (s, w) in warnings)
            output.WriteLine($"  {(w.Level == WarningLevel.Error ? "ERROR" : "warn ")} line {s.Statement.Line} [{w.Rule}] {w.Message}");
        if (notices.Count > 0)
        {
            output.WriteLine($"{notices.Count} note(s) for the application:");
            foreach (var (s, w) in notices)
                output.WriteLine($"  note  line {s.Statement.Line} [{w.Rule}] {w.Message}");
        }
    }
}

/// <summary>The plan for machines.</summary>
public static class PlanJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string Serialize(MigrationPlan plan) => JsonSerializer.Serialize(new
    {
        migration = plan.Migration,
        sha256 = plan.Sha256,
        strongestLock = plan.StrongestLock.SqlName(),
        tables = plan.Tables.Select(t => new { table = t.Table.ToString(), estimatedRows = t.Size.EstimatedRows, empty = t.Size.Empty }),
        statements = plan.Statements.Select(s => new
        {
            number = s.Statement.Number,
            line = s.Statement.Line,
            kind = s.Kind,
            sql = s.Statement.Text,
            locks = s.Locks.Select(l => new { table = l.Table.ToString(), mode = l.Mode.SqlName(), blocks = l.Mode.Blocks(), blocksReads = l.Mode.BlocksReads(), blocksWrites = l.Mode.BlocksWrites() }),
            indexLocks = s.IndexLocks.Select(l => new { index = l.Table.ToString(), mode = l.Mode.SqlName() }),
            rewritesTable = s.Rewrites,
            scansUnderLock = s.ScansUnderLock,
            canRunInTransaction = s.CanRunInTransaction,
            inTransactionBlock = s.Statement.Block is not null,
            locksInferred = s.Inferred,
            postconditions = s.Postconditions.Select(p => p.Describe()),
            warnings = s.Warnings.Select(w => new { level = w.Level, rule = w.Rule, message = w.Message }),
        }),
    }, Options);
}
