using System.Diagnostics;
using System.Globalization;
using System.Text;
using ChatOps.Core.Monitoring;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scripts;
using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using ChatOps.Postgres.Monitoring;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Runbooks;
using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>What to run in the verdict benchmark.</summary>
public sealed record VerdictSettings(int Rows, int QuietRuns, int BusyRuns, int RegressionRuns, string? Connection, bool WritesResults, bool Smoke = false)
{
    public const string Usage = """
        dotnet run -c Release --project tests/ChatOps.Benchmarks -- --verdicts [--rows N] [--runs Q,B,R] [--smoke] [--connection CS]
          the seed runbook Q times on a quiet target and B times with two CPU-bound processes beside it (false triggers
          and failed verdicts counted), and R runs of a migration that drops the index the organisation queries use
          (degradation triggers counted). Default: 20,000 contacts, --runs 20,20,10; --smoke: 10,000 contacts, 1,1,1.
          Only the default run rewrites the verdict section of RESULTS.md. Exit 1 on a false alarm or a missed regression
          (not with --smoke, which keeps the benchmark working and measures nothing).
        """;

    public static VerdictSettings Parse(IReadOnlyList<string> args)
    {
        int rows = 20_000, quiet = 20, busy = 20, regression = 10;
        string? connection = null;
        var narrowed = false;
        var smoke = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--verdicts": break;
                case "--rows": narrowed = true; rows = int.Parse(Next(args, ref i), NumberStyles.AllowThousands, CultureInfo.InvariantCulture); break;
                case "--runs":
                    narrowed = true;
                    var parts = Next(args, ref i).Split(',').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
                    if (parts.Length != 3 || parts.Any(p => p < 0))
                        throw new ArgumentException("--runs takes three counts: quiet,busy,regression (e.g. 20,20,10)");
                    (quiet, busy, regression) = (parts[0], parts[1], parts[2]);
                    break;
                case "--smoke": narrowed = smoke = true; rows = 10_000; quiet = busy = regression = 1; break;
                case "--connection": connection = Next(args, ref i); break;
                case "-h" or "--help": throw new ArgumentException("");
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (rows < 100)
            throw new ArgumentException("--rows must be at least 100");
        return new VerdictSettings(rows, quiet, busy, regression, connection, !narrowed, smoke);
    }

    private static string Next(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");
}

/// <summary>
/// Does the verdict tell a regression from noise? The seed runbook on quiet and on CPU-bound targets must fire no
/// trigger and succeed; a migration that drops an index a benchmark query uses must fire the degradation trigger.
/// Each run gets a fresh copy of one template database; the runner runs with its production defaults.
/// </summary>
public sealed class VerdictBenchmark(VerdictSettings settings, TextWriter output)
{
    private const string Seed = "20250803_add_analytics_tracking_optimized";
    private const string DropIndex = "DROP INDEX CONCURRENTLY public.contacts_organization_id_idx";

    /// <param name="TimeOnly">The last round as a time-only judge (the one before this change) saw it: summed medians vs the
    /// baseline's, differences under 0.1 ms counting as 0.</param>
    private sealed record Outcome(string Kind, bool Succeeded, IReadOnlyList<string> Triggers, IReadOnlyList<string> Reasons, double? Degradation, double? TimeOnly, TimeSpan Took);

    public async Task<int> RunAsync()
    {
        var sql = await File.ReadAllTextAsync(Path.Combine(ProductFiles.Root, "sql", "migrations", Seed + ".sql"));
        var runbookPath = Path.Combine(ProductFiles.Root, "sql", "migrations", Seed + ".runbook.json");
        var seedRunbook = MigrationRunbook.Parse(await File.ReadAllTextAsync(runbookPath), runbookPath);
        var regressionRunbook = seedRunbook with
        {
            Benchmarks = seedRunbook.Benchmarks.Where(b => !b.AfterOnly).ToList(),
            Validations = [], RlsProbe = null, IndexUsage = [],
        };

        await using var server = await new PostgresLauncher().StartAsync(settings.Connection, CancellationToken.None);
        output.WriteLine($"PostgreSQL: {server.Description}");
        var template = $"verdict_tpl_{Environment.ProcessId}";
        await DatabaseAdmin.DropAsync(server.ConnectionString, template, CancellationToken.None);
        await DatabaseAdmin.CreateAsync(server.ConnectionString, template, null, CancellationToken.None);
        var outcomes = new List<Outcome>();
        try
        {
            var templateCs = new NpgsqlConnectionStringBuilder(ConnectionStrings.WithDatabase(server.ConnectionString, template)) { Pooling = false }.ConnectionString;
            await DemoDatabase.CreateAsync(templateCs, settings.Rows, CancellationToken.None);
            await MonitoringFunctions.InstallAsync(templateCs, CancellationToken.None);
            await using (var connection = new NpgsqlConnection(templateCs))
            {
                await connection.OpenAsync();
                await using var vacuum = new NpgsqlCommand("VACUUM (FREEZE, ANALYZE)", connection) { CommandTimeout = 0 };
                await vacuum.ExecuteNonQueryAsync();
            }
            NpgsqlConnection.ClearAllPools();
            output.WriteLine($"template: {settings.Rows:N0} contacts");

            for (var i = 1; i <= settings.QuietRuns; i++)
                outcomes.Add(await RunOnceAsync(server.ConnectionString, template, "quiet", i, sql, seedRunbook));
            using (CpuBurners.Start(2))
                for (var i = 1; i <= settings.BusyRuns; i++)
                    outcomes.Add(await RunOnceAsync(server.ConnectionString, template, "2 CPU-bound processes", i, sql, seedRunbook));
            for (var i = 1; i <= settings.RegressionRuns; i++)
                outcomes.Add(await RunOnceAsync(server.ConnectionString, template, "index dropped", i, DropIndex, regressionRunbook));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await DatabaseAdmin.DropAsync(server.ConnectionString, template, CancellationToken.None);
        }

        var report = Markdown(outcomes);
        output.WriteLine();
        output.WriteLine(report);
        if (settings.WritesResults)
        {
            var path = ResultsFile.Path;
            await ResultsFile.WriteSectionAsync(ResultsFile.VerdictSection, report);
            output.WriteLine($"written to {path}");
        }
        var falseAlarms = outcomes.Count(o => o.Kind != "index dropped" && (!o.Succeeded || o.Triggers.Count > 0));
        var missed = outcomes.Count(o => o.Kind == "index dropped" && !o.Triggers.Any(t => t.StartsWith("query degradation", StringComparison.Ordinal)));
        // A smoke run keeps the benchmark working; one run of each is not a measurement, so it reports and does not judge.
        return settings.Smoke || falseAlarms == 0 && missed == 0 ? 0 : 1;
    }

    private async Task<Outcome> RunOnceAsync(string server, string template, string kind, int run, string sql, MigrationRunbook runbook)
    {
        var database = $"verdict_{Environment.ProcessId}_{run}";
        await DatabaseAdmin.DropAsync(server, database, CancellationToken.None);
        await DatabaseAdmin.CreateAsync(server, database, template, CancellationToken.None);
        try
        {
            var triggers = new List<string>();
            double? degradation = null;
            var before = new Dictionary<string, double>();
            var after = new Dictionary<string, double>();
            var runner = new RunbookRunner(new ExecutionOptions(), new MonitoringOptions(), TimeProvider.System);
            var clock = Stopwatch.StartNew();
            var result = await runner.RunAsync(new RunbookRequest(ConnectionStrings.WithDatabase(server, database), Seed, new string('0', 64),
                SqlScript.Parse(sql), runbook, $"verdict-{run}", e =>
                {
                    switch (e)
                    {
                        case ThresholdReported { Threshold: ThresholdBreached { Rule.Action: BreachAction.RollbackTrigger } b }:
                            lock (triggers) triggers.Add(b.Rule.Describe());
                            break;
                        case VerdictReached v:
                            degradation = v.Criteria.FirstOrDefault(c => c.Criterion.Name == "query degradation")?.Measured;
                            break;
                        case Measured { Name: var name } m when name.StartsWith("baseline: ", StringComparison.Ordinal) && name != "baseline: control query":
                            before[name["baseline: ".Length..]] = m.Value;
                            break;
                        case Measured { Name: var name } m when name.StartsWith("after: ", StringComparison.Ordinal):
                            after[name["after: ".Length..]] = m.Value;
                            break;
                    }
                }), CancellationToken.None);
            var outcome = new Outcome(kind, result.Succeeded, triggers, result.Reasons, degradation, TimeOnly(before, after), clock.Elapsed);
            output.WriteLine($"  {kind,-22} #{run,-2} {(result.Succeeded ? "SUCCESS" : "FAILED "),-8} degradation {degradation?.ToString("0.0", CultureInfo.InvariantCulture) ?? "—",6} % " +
                             $"(time only {outcome.TimeOnly?.ToString("0.0", CultureInfo.InvariantCulture) ?? "—"} %) · " +
                             $"{clock.Elapsed.TotalSeconds:0.0} s{(triggers.Count > 0 ? " · TRIGGER " + string.Join("; ", triggers) : "")}" +
                             (result.Succeeded ? "" : $" · {string.Join(" | ", result.Reasons)}"));
            return outcome;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await DatabaseAdmin.DropAsync(server, database, CancellationToken.None);
        }
    }

    private static string Figures(IReadOnlyList<double> values) =>
        values.Count == 0 ? "—" : string.Create(CultureInfo.InvariantCulture, $"{Stats.Median(values):0.0} % / {values.Max():0.0} %");

    private static double? TimeOnly(Dictionary<string, double> before, Dictionary<string, double> after)
    {
        var common = before.Keys.Where(after.ContainsKey).ToList();
        if (common.Count == 0) return null;
        var b = common.Sum(k => before[k]);
        var a = common.Sum(k => after[k]);
        return Math.Abs(a - b) < 0.1 || b == 0 ? 0 : 100 * (a - b) / b;
    }

    private string Markdown(IReadOnlyList<Outcome> outcomes)
    {
        var md = new StringBuilder();
        md.AppendLine("## Verdicts: false alarms and real regressions (`--verdicts`)");
        md.AppendLine();
        md.AppendLine($"- date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; {Environment.ProcessorCount} cores; {settings.Rows:N0} contacts per target, a fresh copy per run; " +
                      "the runner with its production defaults (7 runs per benchmark query, 3 rounds, sampler every 5 s and every 1 s during the migration)");
        md.AppendLine("- quiet: nothing else runs; busy: two `sh` busy loops (one per core) run beside the server and the bot for the whole set; " +
                      $"index dropped: `{DropIndex}` with the seed's benchmark queries (two of them use that index)");
        md.AppendLine();
        md.AppendLine("| set-up | runs | verdict SUCCESS | any rollback trigger | degradation trigger | degradation criterion (median / max) | time-only figure, last round (median / max; runs over 3 %) | run time s (median) |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var group in outcomes.GroupBy(o => o.Kind))
        {
            var g = group.ToList();
            var degradations = g.Select(o => o.Degradation ?? double.NaN).Where(d => !double.IsNaN(d)).ToList();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key} | {g.Count} | {g.Count(o => o.Succeeded)} | {g.Count(o => o.Triggers.Count > 0)} | " +
                $"{g.Count(o => o.Triggers.Any(t => t.StartsWith("query degradation", StringComparison.Ordinal)))} | " +
                $"{Figures(degradations)} | {Figures(g.Where(o => o.TimeOnly is not null).Select(o => o.TimeOnly!.Value).ToList())}; {g.Count(o => o.TimeOnly > 3)} | " +
                $"{Stats.Median(g.Select(o => o.Took.TotalSeconds)):0.0} |"));
        }
        var falseAlarms = outcomes.Where(o => o.Kind != "index dropped" && (!o.Succeeded || o.Triggers.Count > 0)).ToList();
        md.AppendLine();
        md.AppendLine("The time-only column is the naive way, computed from the same runs' last round: the summed medians against the baseline's, as the " +
                      "verdict judged before it looked at plans, buffers and a control query (differences under 0.1 ms counted as 0).");
        md.AppendLine();
        md.AppendLine($"False alarms (quiet and busy): **{falseAlarms.Count} of {outcomes.Count(o => o.Kind != "index dropped")}** (target 0). " +
                      $"Regressions caught: **{outcomes.Count(o => o.Kind == "index dropped" && o.Triggers.Any(t => t.StartsWith("query degradation", StringComparison.Ordinal)))} of {outcomes.Count(o => o.Kind == "index dropped")}** (target all).");
        foreach (var reason in falseAlarms.SelectMany(o => o.Reasons).GroupBy(r => r).OrderByDescending(r => r.Count()))
            md.AppendLine($"- {reason.Count()}× {reason.Key}");
        return md.ToString();
    }
}

/// <summary>Busy loops in separate processes, one per requested core, killed on dispose: a CPU-bound neighbour.</summary>
public sealed class CpuBurners : IDisposable
{
    private readonly List<Process> _processes;

    private CpuBurners(List<Process> processes) => _processes = processes;

    public static CpuBurners Start(int count) =>
        // `timeout` ends a loop by itself should this process be killed before it can.
        new(Enumerable.Range(0, count).Select(_ => Process.Start(new ProcessStartInfo("timeout", ["1800", "sh", "-c", "while :; do :; done"]))!).ToList());

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            process.Dispose();
        }
    }
}

/// <summary>RESULTS.md: the main benchmark's report, and sections other modes keep up to date inside it.</summary>
public static class ResultsFile
{
    public const string VerdictSection = "verdicts";

    public static string Path => System.IO.Path.Combine(ProductFiles.Root, "tests", "ChatOps.Benchmarks", "RESULTS.md");

    /// <summary>Replaces (or appends) the section between its markers, leaving the rest as it is.</summary>
    public static async Task WriteSectionAsync(string name, string markdown)
    {
        var text = File.Exists(Path) ? await File.ReadAllTextAsync(Path) : "";
        var (begin, end) = Markers(name);
        var block = $"{begin}\n{markdown.TrimEnd()}\n{end}\n";
        var at = text.IndexOf(begin, StringComparison.Ordinal);
        var until = text.IndexOf(end, StringComparison.Ordinal);
        text = at >= 0 && until > at
            ? text[..at] + block + text[(until + end.Length)..].TrimStart('\n')
            : text.TrimEnd() + "\n\n" + block;
        await File.WriteAllTextAsync(Path, text);
    }

    /// <summary>Notes written by hand about the inbound runs, in a section of their own so that no run overwrites them.</summary>
    public const string InboundNotesSection = "inbound notes";

    /// <summary>The sections other modes write (<c>--verdicts</c>, <c>--slack</c>, <c>--discord</c>) and the inbound notes, kept when the main report is rewritten.</summary>
    public static readonly string[] Sections = [VerdictSection, SlackInboundBenchmark.Section, DiscordInboundBenchmark.Section, InboundNotesSection];

    /// <summary>Writes the main report, keeping the sections other modes wrote.</summary>
    public static async Task WriteMainAsync(string report)
    {
        var kept = "";
        if (File.Exists(Path))
        {
            var text = await File.ReadAllTextAsync(Path);
            foreach (var section in Sections)
            {
                var (begin, end) = Markers(section);
                var at = text.IndexOf(begin, StringComparison.Ordinal);
                var until = text.IndexOf(end, StringComparison.Ordinal);
                if (at >= 0 && until > at)
                    kept += "\n" + text[at..(until + end.Length)] + "\n";
            }
        }
        await File.WriteAllTextAsync(Path, report.TrimEnd() + "\n" + kept);
    }

    private static (string Begin, string End) Markers(string name) => ($"<!-- {name}: begin -->", $"<!-- {name}: end -->");
}
