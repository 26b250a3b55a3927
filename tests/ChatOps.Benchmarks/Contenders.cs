using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ChatOps.Core.Execution;
using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;
using ChatOps.Postgres.Execution;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.Runbooks;
using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>What a contender reports about its migration.</summary>
public sealed record ContenderRun(IReadOnlyList<StatementSpan> Spans, double? LongestExclusiveHoldMs, string? Error);

/// <summary>A way of applying the migration and its rollback.</summary>
public interface IContender
{
    /// <summary>The name <c>--contenders</c> takes, also used in the trial's database name.</summary>
    string Key { get; }
    string Name { get; }
    Task<ContenderRun> MigrateAsync(string connectionString, string scriptPath);
    Task<string?> RollbackAsync(string connectionString, string rollbackPath);
}

/// <summary>(a) What the checklist does today: <c>psql -v ON_ERROR_STOP=1 -f</c>, with <c>\timing</c> to time each statement.</summary>
public sealed partial class PsqlContender(string psql) : IContender
{
    public const string ContenderName = "psql -f";

    public string Key => "psql";
    public string Name => ContenderName;

    public async Task<ContenderRun> MigrateAsync(string connectionString, string scriptPath)
    {
        var started = Clock.Now;
        var (exit, output) = await RunAsync(connectionString, scriptPath, timing: true);
        var statements = SqlScript.Parse(await File.ReadAllTextAsync(scriptPath)).Statements;
        var durations = TimingLine().Matches(output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        var spans = new List<StatementSpan>();
        var at = started;
        foreach (var (statement, ms) in statements.Zip(durations))
        {
            spans.Add(new StatementSpan(at, at + ms / 1000, statement.IsConcurrently, statement.Summary(60)));
            at += ms / 1000;
        }
        return new ContenderRun(spans, null, exit == 0 ? null : $"psql exited {exit}: {output.Trim().Split('\n').LastOrDefault()}");
    }

    public async Task<string?> RollbackAsync(string connectionString, string rollbackPath)
    {
        var (exit, output) = await RunAsync(connectionString, rollbackPath, timing: false);
        return exit == 0 ? null : $"psql rollback exited {exit}: {output.Trim()}";
    }

    private async Task<(int Exit, string Output)> RunAsync(string connectionString, string file, bool timing)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo(psql) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", b.Host!, "-p", b.Port.ToString(CultureInfo.InvariantCulture), "-U", b.Username!, "-d", b.Database! })
            start.ArgumentList.Add(arg);
        if (timing)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("\\timing on");
        }
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add(file);
        start.Environment["PGAPPNAME"] = "bench-psql";
        if (b.Password is { } password) start.Environment["PGPASSWORD"] = password;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"^Time: ([\d.]+) ms", RegexOptions.Multiline)]
    private static partial Regex TimingLine();
}

/// <summary>(b) The ChatOps engine: the lock-safe executor with its default lock policy (and, when given, index builds bounded to so many parallel workers).</summary>
public sealed class EngineContender(int? indexBuildWorkers = null) : IContender
{
    private ExecutionOptions Options => new() { IndexBuildWorkers = indexBuildWorkers };

    public const string ContenderName = "ChatOps engine";

    public string Key => "engine";
    public string Name => ContenderName;

    public async Task<ContenderRun> MigrateAsync(string connectionString, string scriptPath)
    {
        var script = SqlScript.Parse(await File.ReadAllTextAsync(scriptPath));
        var plan = StatementAnalyzer.AnalyzeScript(script);
        var spans = new List<StatementSpan>();
        var holds = new List<double>();
        var result = await new LockSafeExecutor(Options, TimeProvider.System).RunAsync(
            new ExecutionRequest(connectionString, script, "bench", e =>
            {
                if (e is not StatementFinished f)
                    return;
                var end = Clock.Now;
                spans.Add(new StatementSpan(end - f.Duration.TotalSeconds, end, f.Statement.IsConcurrently, f.Statement.Summary(60)));
                if (plan[f.Statement.Number - 1].StrongestLock == LockMode.AccessExclusive)
                    holds.Add(f.LockHeld.TotalMilliseconds);
            }), CancellationToken.None);
        return new ContenderRun(spans, holds.Count == 0 ? 0 : holds.Max(), result.Succeeded ? null : result.Failure?.Message ?? result.Outcome.ToString());
    }

    public async Task<string?> RollbackAsync(string connectionString, string rollbackPath)
    {
        var result = await new RollbackRunner(Options, TimeProvider.System)
            .RunAsync(new RollbackRequest(connectionString, Path.GetFileName(rollbackPath).Replace(".rollback.sql", ""), "", SqlScript.Parse(await File.ReadAllTextAsync(rollbackPath)),
                "bench-rollback", _ => { }, Force: true), CancellationToken.None);
        return result.Succeeded ? null : $"rollback failed: {result.Execution?.Failure?.Message}";
    }
}

/// <summary>
/// The control: no migration at all, only the long transaction's window. What the application's latency does
/// with the report's snapshot open and nothing else happening is the floor any contender is measured against.
/// </summary>
public sealed class ControlContender(TimeSpan interference) : IContender
{
    public const string ContenderName = "control (no migration)";

    public string Key => "control";
    public string Name => ContenderName;

    public async Task<ContenderRun> MigrateAsync(string connectionString, string scriptPath)
    {
        var start = Clock.Now;
        await Task.Delay(interference);
        return new ContenderRun([new StatementSpan(start, Clock.Now, false, "(idle: the long transaction alone)")], null, null);
    }

    public Task<string?> RollbackAsync(string connectionString, string rollbackPath) => Task.FromResult<string?>(null);
}

/// <summary>Wall-clock Unix seconds, the clock pgbench's log uses.</summary>
public static class Clock
{
    public static double Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}
