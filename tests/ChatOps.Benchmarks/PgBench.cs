using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>One application transaction from pgbench's per-transaction log.</summary>
public readonly record struct AppTransaction(double EndSeconds, double LatencyMs, int Script)
{
    public double StartSeconds => EndSeconds - LatencyMs / 1000;
}

/// <summary>
/// The application load: pgbench with four scripts over contacts (organisation search, point read, update,
/// insert), a fixed rate, and a per-transaction log (<c>client_id tx_no latency_us script_no epoch_s epoch_us</c>).
/// </summary>
public sealed partial class PgBench
{
    private readonly Process _process;
    private readonly string _logDirectory;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private PgBench(Process process, string logDirectory)
    {
        _process = process;
        _logDirectory = logDirectory;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Creates the lookup table pgbench draws ids from (the application's own cache of ids, in effect).</summary>
    public static async Task PrepareAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            CREATE TABLE bench_ids AS
            SELECT row_number() OVER ()::int AS n, id AS contact_id, organization_id FROM public.contacts;
            """, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
        foreach (var sql in new[] { "ALTER TABLE bench_ids ADD PRIMARY KEY (n)", "VACUUM (FREEZE, ANALYZE)", "CHECKPOINT" })
        {
            await using var next = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
            await next.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The scripts in the order pgbench numbers them in its log.</summary>
    public static readonly IReadOnlyList<string> ScriptNames = ["search", "read", "update", "insert"];

    public static PgBench Start(string pgbench, string connectionString, int rows, int clients, int rate, TimeSpan duration, string workDirectory)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var scripts = new Dictionary<string, (string Sql, int Weight)>
        {
            ["search"] = ("SELECT c.id, c.name, c.email FROM public.contacts c WHERE c.organization_id = (SELECT organization_id FROM bench_ids WHERE n = :n) AND c.name LIKE 'Contact 1%' ORDER BY c.created_at DESC LIMIT 50;", 4),
            // Named columns: a prepared `SELECT *` fails with "cached plan must not change result type" after
            // any ADD COLUMN — an application hazard of its own, which would stop the load mid-benchmark.
            ["read"] = ("SELECT id, organization_id, name, email, created_at FROM public.contacts WHERE id = (SELECT contact_id FROM bench_ids WHERE n = :n);", 4),
            ["update"] = ("UPDATE public.contacts SET name = name WHERE id = (SELECT contact_id FROM bench_ids WHERE n = :n);", 1),
            ["insert"] = ("INSERT INTO public.contacts (organization_id, name, email) SELECT organization_id, 'bench', 'bench@example.test' FROM bench_ids WHERE n = :n;", 1),
        };
        var logDirectory = Path.Combine(workDirectory, $"pgbench-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(logDirectory);
        var start = new ProcessStartInfo(pgbench) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = logDirectory };
        foreach (var (name, (sql, weight)) in scripts)
        {
            var file = Path.Combine(logDirectory, name + ".sql");
            File.WriteAllText(file, $"\\set n random(1, {rows})\n{sql}\n");
            start.ArgumentList.Add("-f");
            start.ArgumentList.Add($"{file}@{weight}");
        }
        foreach (var arg in new[] { "-n", "-M", "prepared", "-c", clients.ToString(), "-j", "2", "-R", rate.ToString(), "-T", ((int)Math.Ceiling(duration.TotalSeconds)).ToString(),
                     "--log", "--log-prefix", Path.Combine(logDirectory, "tx"), "-h", b.Host!, "-p", b.Port.ToString(), "-U", b.Username!, b.Database! })
            start.ArgumentList.Add(arg);
        start.Environment["PGAPPNAME"] = "bench-app";
        if (b.Password is { } password) start.Environment["PGPASSWORD"] = password;
        return new PgBench(Process.Start(start)!, logDirectory);
    }

    /// <summary>Waits for pgbench to finish and reads its log.</summary>
    public async Task<(IReadOnlyList<AppTransaction> Transactions, long Failed, string Summary)> FinishAsync()
    {
        await _process.WaitForExitAsync();
        var stdout = await _stdout;
        var stderr = await _stderr;
        var transactions = new List<AppTransaction>();
        foreach (var file in Directory.GetFiles(_logDirectory, "tx.*"))
        {
            foreach (var line in File.ReadLines(file))
            {
                var parts = line.Split(' ');
                if (parts.Length < 6 || !long.TryParse(parts[2], out var latencyUs))
                    continue;   // "failed" / "skipped" entries carry no latency
                var end = long.Parse(parts[4]) + long.Parse(parts[5]) / 1e6;
                transactions.Add(new AppTransaction(end, latencyUs / 1000.0, int.Parse(parts[3])));
            }
        }
        var failed = FailedLine().Match(stdout) is { Success: true } m ? long.Parse(m.Groups[1].Value) : 0;
        failed += AbortedLine().Matches(stderr).Count;
        Directory.Delete(_logDirectory, recursive: true);
        return (transactions, failed, stdout + stderr);
    }

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex FailedLine();

    [GeneratedRegex(@"client \d+ (script \d+ )?aborted")]
    private static partial Regex AbortedLine();
}
