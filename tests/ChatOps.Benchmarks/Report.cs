using System.Globalization;
using System.Text;

namespace ChatOps.Benchmarks;

/// <summary>The Markdown report: medians over repetitions with their spread, ratios, sampler cost, scaling.</summary>
public static class Report
{
    public static string Markdown(BenchmarkSettings settings, IReadOnlyList<Trial> trials, (double ServerMs, double RoundTripMs, int Connections) samplerCost, string serverVersion)
    {
        var md = new StringBuilder();
        md.AppendLine("# Benchmark: the ChatOps engine vs. `psql -f`, under load, with a long transaction in the way");
        md.AppendLine();
        md.AppendLine($"- date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; machine: {Environment.ProcessorCount} cores, {MemoryGiB():0} GiB, {Os()}");
        md.AppendLine($"- server: {serverVersion.Split(" on ")[0]} (throwaway cluster: fsync off)");
        md.AppendLine($"- load: pgbench, {settings.Clients} clients at {settings.Rate} tx/s (organisation search 40 %, point read 40 %, update 10 %, insert 10 %); " +
                      $"baseline window {settings.Baseline.TotalSeconds:0} s before the migration, after {settings.Warmup.TotalSeconds:0} s of warm-up; " +
                      "the table is vacuumed (frozen) and analysed before the copies are made, as a table in service would be");
        md.AppendLine($"- interference: a session opens a transaction, reads contacts and sits idle for {settings.Interference.TotalSeconds:0} s, started just before the migration");
        if (settings.IndexBuildWorkers is { } workers)
            md.AppendLine($"- engine: ChatOps:Execution:IndexBuildWorkers = {workers} (max_parallel_maintenance_workers for its session)");
        if (KernelSamplerWatch.Describe() is { } damon)
            md.AppendLine($"- kernel: {damon}; each trial records when its thread wakes (see \"kernel sampler\" below each table)");
        md.AppendLine($"- {settings.Repetitions} repetition(s) per size and contender, contenders alternating; figures are medians, [min–max] where it matters");
        md.AppendLine("- latencies in ms, of application transactions overlapping the window; \"DDL\" = while a non-CONCURRENTLY statement ran (for psql: including its wait in the lock queue), \"builds\" = while a CONCURRENTLY index build ran");
        md.AppendLine();

        foreach (var size in trials.GroupBy(t => t.Rows))
        {
            md.AppendLine($"## {size.Key:N0} contacts");
            md.AppendLine();
            md.AppendLine("| contender | migration s | max app wait ms | p50 / p95 / p99 during (baseline) | p99 DDL | p99 builds | failed tx | peak blocked | longest AE hold ms (executor / pg_locks) | index builds ms | rollback s |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var c in size.GroupBy(t => t.Contender))
            {
                var t = c.ToList();
                md.AppendLine($"| {c.Key} | {Med(t, x => x.MigrationSeconds, "0.00")} | {Med(t, x => x.During.Max, "0")}{Spread(t, x => x.During.Max)} " +
                              $"| {Med(t, x => x.During.P50, "0.0")} / {Med(t, x => x.During.P95, "0.0")} / {Med(t, x => x.During.P99, "0.0")} ({Med(t, x => x.Baseline.P50, "0.0")} / {Med(t, x => x.Baseline.P95, "0.0")} / {Med(t, x => x.Baseline.P99, "0.0")}) " +
                              $"| {Med(t, x => x.DuringDdl.P99, "0.0")} | {Med(t, x => x.DuringBuilds.P99, "0.0")} | {t.Sum(x => x.Failed)} | {t.Max(x => x.PeakBlocked)} " +
                              $"| {(t.All(x => x.LongestExclusiveHoldReportedMs is null) ? "—" : Med(t, x => x.LongestExclusiveHoldReportedMs ?? double.NaN, "0.0"))} / {Med(t, x => x.LongestExclusiveHoldObservedMs, "0")} " +
                              $"| {string.Join(", ", Enumerable.Range(0, t.Max(x => x.IndexBuildsMs.Count)).Select(i => Med(t, x => i < x.IndexBuildsMs.Count ? x.IndexBuildsMs[i] : double.NaN, "0")))} " +
                              $"| {Med(t, x => x.RollbackSeconds, "0.00")} |");
            }
            var psql = size.Where(t => t.Contender == PsqlContender.ContenderName).ToList();
            var engine = size.Where(t => t.Contender == EngineContender.ContenderName).ToList();
            var control = size.Where(t => t.Contender == ControlContender.ContenderName).ToList();
            if (psql.Count > 0 && engine.Count > 0)
            {
                md.AppendLine();
                md.AppendLine($"psql / engine: max app wait × {Median(psql.Select(x => x.During.Max)) / Median(engine.Select(x => x.During.Max)):0.0}, " +
                              $"p99 during × {Median(psql.Select(x => x.During.P99)) / Median(engine.Select(x => x.During.P99)):0.0}");
            }
            if (engine.Count > 0)
            {
                md.AppendLine();
                md.AppendLine($"engine p99 during DDL steps / baseline p99 = {Median(engine.Select(x => x.DuringDdl.P99 / x.Baseline.P99)):0.00}{Spread(engine, x => x.DuringDdl.P99 / x.Baseline.P99, "0.00")}, " +
                              $"during index builds = {Median(engine.Select(x => x.DuringBuilds.P99 / x.Baseline.P99)):0.00}");
            }
            if (control.Count > 0)
            {
                md.AppendLine();
                md.AppendLine($"control (the long transaction alone, no migration) p99 during its window / baseline p99 = {Median(control.Select(x => x.DuringDdl.P99 / x.Baseline.P99)):0.00}{Spread(control, x => x.DuringDdl.P99 / x.Baseline.P99, "0.00")}" +
                              (engine.Count > 0 ? $"; engine p99 during DDL steps / control p99 = {Median(engine.Select(x => x.DuringDdl.P99)) / Median(control.Select(x => x.DuringDdl.P99)):0.00}" : ""));
            }
            if (size.Where(t => t.KernelSampler is not null).ToList() is { Count: > 0 } watched)
            {
                md.AppendLine();
                md.AppendLine("kernel sampler: share of the slowest 1 % of application transactions (whole trial) " +
                              $"that started within {KernelSamplerWatch.StallReach.TotalMilliseconds:0} ms after a DAMON wake-up — " +
                              string.Join(", ", watched.GroupBy(t => t.Contender).Select(c => $"{c.Key} {Median(c.Select(t => t.KernelSampler!.Value.Slow * 100)):0} %{Spread(c.ToList(), t => t.KernelSampler!.Value.Slow * 100)}")) +
                              $"; of all transactions: {Median(watched.Select(t => t.KernelSampler!.Value.Chance * 100)):0} %");
            }
            foreach (var error in size.Where(t => t.Error is not null))
                md.AppendLine($"\n- ERROR in {error.Contender} #{error.Repetition}: {error.Error}");
            md.AppendLine();
        }

        md.AppendLine("## Sampler cost");
        md.AppendLine();
        md.AppendLine($"One sample with 200 idle and 20 busy connections ({samplerCost.Connections} sessions seen): median of 50 = **{samplerCost.ServerMs:0.00} ms** database time " +
                      $"({samplerCost.RoundTripMs:0.00} ms round trip from the bot, both queries).");
        md.AppendLine();

        var sizes = trials.Select(t => t.Rows).Distinct().Order().ToList();
        if (sizes.Count > 1)
        {
            md.AppendLine("## Scaling (engine)");
            md.AppendLine();
            md.AppendLine("| contacts | migration s | longest AE hold ms | index builds ms (sum) | rollback s |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var rows in sizes)
            {
                var e = trials.Where(t => t.Rows == rows && t.Contender == EngineContender.ContenderName).ToList();
                if (e.Count == 0) continue;
                md.AppendLine($"| {rows:N0} | {Med(e, x => x.MigrationSeconds, "0.00")} | {Med(e, x => x.LongestExclusiveHoldObservedMs, "0")} | {Med(e, x => x.IndexBuildsMs.Sum(), "0")} | {Med(e, x => x.RollbackSeconds, "0.00")} |");
            }
            md.AppendLine();
        }
        return md.ToString();
    }

    private static string Med(IReadOnlyList<Trial> trials, Func<Trial, double> value, string format) =>
        Median(trials.Select(value)) is var m && double.IsNaN(m) ? "—" : m.ToString(format, CultureInfo.InvariantCulture);

    private static string Spread(IReadOnlyList<Trial> trials, Func<Trial, double> value, string format = "0") =>
        trials.Count < 2 ? "" : $" [{trials.Min(value).ToString(format, CultureInfo.InvariantCulture)}–{trials.Max(value).ToString(format, CultureInfo.InvariantCulture)}]";

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static double MemoryGiB()
    {
        var line = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) : null;
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1048576.0;
    }

    private static string Os() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?[12..].Trim('"') ?? "Linux"
            : Environment.OSVersion.ToString();
}
