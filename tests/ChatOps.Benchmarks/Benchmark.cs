using System.Diagnostics;
using ChatOps.Core.Monitoring;
using ChatOps.Postgres;
using ChatOps.Postgres.Launching;
using ChatOps.Postgres.Monitoring;
using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>Runs every size × repetition × contender and reports.</summary>
public sealed class Benchmark(BenchmarkSettings settings, TextWriter output)
{
    private const string Seed = "20250803_add_analytics_tracking_optimized";

    public async Task<int> RunAsync()
    {
        var psql = FindBinary("psql");
        var pgbench = FindBinary("pgbench");
        var scriptPath = Path.Combine(ProductFiles.Root, "sql", "migrations", Seed + ".sql");
        var rollbackPath = Path.Combine(ProductFiles.Root, "sql", "migrations", Seed + ".rollback.sql");
        var work = Directory.CreateTempSubdirectory("chatops-bench-").FullName;
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(work, (UnixFileMode)0b111_111_111);

        await using var server = await new PostgresLauncher().StartAsync(settings.Connection, CancellationToken.None);
        output.WriteLine($"PostgreSQL: {server.Description}");
        var trials = new List<Trial>();
        var contenders = settings.Contenders.Select(name => name switch
        {
            "psql" => (IContender)new PsqlContender(psql),
            "engine" => new EngineContender(settings.IndexBuildWorkers),
            _ => new ControlContender(settings.Interference),
        }).ToArray();

        foreach (var rows in settings.Sizes)
        {
            var template = $"bench_tpl_{rows}";
            var clock = Stopwatch.StartNew();
            await DatabaseAdmin.DropAsync(server.ConnectionString, template, CancellationToken.None);
            await DatabaseAdmin.CreateAsync(server.ConnectionString, template, null, CancellationToken.None);
            var templateCs = new NpgsqlConnectionStringBuilder(ConnectionStrings.WithDatabase(server.ConnectionString, template)) { Pooling = false }.ConnectionString;
            await DemoDatabase.CreateAsync(templateCs, rows, CancellationToken.None);
            await MonitoringFunctions.InstallAsync(templateCs, CancellationToken.None);
            await PgBench.PrepareAsync(templateCs);
            NpgsqlConnection.ClearAllPools();
            output.WriteLine($"{rows:N0} contacts: template ready in {clock.Elapsed.TotalSeconds:0.0} s");

            for (var repetition = 1; repetition <= settings.Repetitions; repetition++)
            {
                // Alternate which contender goes first, so drift over the run lands on both alike.
                var order = repetition % 2 == 1 ? contenders : contenders.Reverse().ToArray();
                foreach (var contender in order)
                {
                    var trial = await TrialAsync(server.ConnectionString, template, rows, repetition, contender, pgbench, scriptPath, rollbackPath, work);
                    trials.Add(trial);
                    output.WriteLine($"  #{repetition} {contender.Name,-15} migration {trial.MigrationSeconds,6:0.00} s · max app wait {trial.During.Max,8:0.0} ms · " +
                                     $"p99 {trial.During.P99,7:0.0} ms (baseline {trial.Baseline.P99:0.0}) · failed {trial.Failed} · peak blocked {trial.PeakBlocked} · " +
                                     $"AE hold {trial.LongestExclusiveHoldObservedMs:0} ms · rollback {trial.RollbackSeconds:0.00} s{(trial.Error is { } e ? $" · ERROR {e}" : "")}");
                    output.WriteLine($"      p99 by script, DDL steps (baseline): {string.Join(" · ", trial.ByScript)}" +
                                     (trial.KernelSampler is { } k ? $" · slowest 1 % starting ≤ {KernelSamplerWatch.StallReach.TotalMilliseconds:0} ms after a DAMON wake-up: {k.Slow:P0} of {k.Count} (all transactions: {k.Chance:P0})" : ""));
                }
            }
            await DatabaseAdmin.DropAsync(server.ConnectionString, template, CancellationToken.None);
        }

        var samplerCost = await SamplerCostAsync(server.ConnectionString, pgbench, work);
        var report = Report.Markdown(settings, trials, samplerCost, await ServerVersionAsync(server.ConnectionString));
        output.WriteLine();
        output.WriteLine(report);
        if (settings.WritesResults)
        {
            await ResultsFile.WriteMainAsync(report);
            output.WriteLine($"written to {ResultsFile.Path}");
        }
        Directory.Delete(work, recursive: true);
        return trials.Any(t => t.Error is not null) ? 1 : 0;
    }

    private async Task<Trial> TrialAsync(string server, string template, int rows, int repetition, IContender contender,
        string pgbench, string scriptPath, string rollbackPath, string work)
    {
        var database = $"bench_{rows}_{repetition}_{contender.Key}";
        await DatabaseAdmin.DropAsync(server, database, CancellationToken.None);
        await DatabaseAdmin.CreateAsync(server, database, template, CancellationToken.None);
        var cs = ConnectionStrings.WithDatabase(server, database);
        try
        {
            // The engine's sampler watches both contenders, for the peak of blocked application sessions, and a
            // pg_locks poller times ACCESS EXCLUSIVE holds. Both start before the baseline window, so the
            // baseline carries the same instrumentation load as the migration window.
            var peakBlocked = 0;
            using var stopSampling = new CancellationTokenSource();
            var sampler = await MetricSampler.OpenAsync(cs, "bench", TimeProvider.System, CancellationToken.None);
            var sampling = sampler.RunAsync(TimeSpan.FromMilliseconds(200), r =>
            {
                if (r is MetricSample s) peakBlocked = Math.Max(peakBlocked, s.BlockedApp);
            }, stopSampling.Token);
            var observer = await LockHoldObserver.StartAsync(cs);
            var kernel = KernelSamplerWatch.TryStart();

            var load = PgBench.Start(pgbench, cs, rows, settings.Clients, settings.Rate,
                settings.Warmup + settings.Baseline + settings.Interference + settings.Tail + TimeSpan.FromSeconds(settings.Smoke ? 4 : 10 + rows / 50_000), work);
            // The baseline is the steady state: on a fresh copy, latency settles over the first ten seconds or so
            // (caches fill; on this VM the kernel's DAMON sampler stalls grow with the memory the load touches).
            await Task.Delay(settings.Warmup + settings.Baseline);

            // A long report opens a transaction, reads contacts, and sits idle.
            var report = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { ApplicationName = "bench-report", Pooling = false }.ConnectionString);
            await report.OpenAsync();
            var reportReadStart = Clock.Now;
            var reportTx = await report.BeginTransactionAsync();
            await using (var read = new NpgsqlCommand("SELECT count(*) FROM public.contacts WHERE email LIKE 'contact1%'", report))
                await read.ExecuteScalarAsync();
            var interference = Task.Run(async () =>
            {
                await Task.Delay(settings.Interference);
                await reportTx.CommitAsync();
                await report.DisposeAsync();
            });

            var started = Clock.Now;
            var run = await contender.MigrateAsync(cs, scriptPath);
            var ended = Clock.Now;
            await interference;
            await Task.Delay(settings.Tail);
            await stopSampling.CancelAsync();
            await sampling;
            await sampler.DisposeAsync();
            await observer.DisposeAsync();
            if (kernel is not null) await kernel.DisposeAsync();
            var (transactions, failed, _) = await load.FinishAsync();
            if (settings.TraceDirectory is { } traceDir)
            {
                Directory.CreateDirectory(traceDir);
                var lines = new List<string> { $"# window {started:0.000} {ended:0.000} reportRead {reportReadStart:0.000}" };
                lines.AddRange(run.Spans.Select(sp => $"span {sp.Start:0.000} {sp.End:0.000} {sp.IndexBuild} {sp.Text}"));
                lines.AddRange(transactions.Select(t => $"tx {t.EndSeconds:0.000000} {t.LatencyMs:0.000} {t.Script}"));
                lines.AddRange((kernel?.WakeUps ?? []).Select(w => $"kernel {w:0.000}"));
                await File.WriteAllLinesAsync(Path.Combine(traceDir, $"{database}.txt"), lines);
            }

            // The load must cover the whole migration, or "during" would quietly measure part of it.
            var loadError = transactions.Count > 0 && transactions.Max(t => t.EndSeconds) >= ended
                ? null : "the application load ended before the migration did: lengthen pgbench's run";
            var rollbackClock = Stopwatch.StartNew();
            var rollbackError = run.Error is null ? await contender.RollbackAsync(cs, rollbackPath) : null;
            var rollbackSeconds = rollbackClock.Elapsed.TotalSeconds;

            bool Overlaps(AppTransaction t, double from, double to) => t.EndSeconds >= from && t.StartSeconds <= to;
            bool InBaseline(AppTransaction t) => t.EndSeconds >= started - settings.Baseline.TotalSeconds && t.EndSeconds < started;
            bool InDdl(AppTransaction t) => run.Spans.Any(s => !s.IndexBuild && Overlaps(t, s.Start, s.End));
            var baseline = Latency.Of(transactions.Where(InBaseline).Select(t => t.LatencyMs));
            var during = Latency.Of(transactions.Where(t => Overlaps(t, started, ended)).Select(t => t.LatencyMs));
            var ddl = Latency.Of(transactions.Where(InDdl).Select(t => t.LatencyMs));
            var byScript = PgBench.ScriptNames.Select((name, i) => new ScriptLatency(name,
                Latency.Of(transactions.Where(t => t.Script == i && InBaseline(t)).Select(t => t.LatencyMs)),
                Latency.Of(transactions.Where(t => t.Script == i && InDdl(t)).Select(t => t.LatencyMs)))).ToList();
            var builds = Latency.Of(transactions.Where(t => run.Spans.Any(s => s.IndexBuild && Overlaps(t, s.Start, s.End))).Select(t => t.LatencyMs));
            var holds = observer.Holds;
            var trialFrom = started - settings.Baseline.TotalSeconds;
            var trialTo = ended + settings.Tail.TotalSeconds;
            var slowest = Latency.Of(transactions.Where(t => t.StartSeconds >= trialFrom && t.StartSeconds <= trialTo).Select(t => t.LatencyMs)).P99;
            var coincidence = kernel?.Coincidence(transactions, trialFrom, trialTo, slowest);
            return new Trial(rows, contender.Name, repetition, ended - started, baseline, during, ddl, builds, failed, peakBlocked,
                run.LongestExclusiveHoldMs, holds.Count == 0 ? 0 : holds.Max().TotalMilliseconds,
                run.Spans.Where(s => s.IndexBuild).Select(s => (s.End - s.Start) * 1000).ToList(), rollbackSeconds, run.Error ?? rollbackError ?? loadError, byScript, coincidence);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await DatabaseAdmin.DropAsync(server, database, CancellationToken.None);
        }
    }

    /// <summary>One sample's database time with 200 idle and 20 busy connections, median of 50.</summary>
    private async Task<(double ServerMs, double RoundTripMs, int Connections)> SamplerCostAsync(string server, string pgbench, string work)
    {
        const string database = "bench_sampler";
        await DatabaseAdmin.DropAsync(server, database, CancellationToken.None);
        await DatabaseAdmin.CreateAsync(server, database, null, CancellationToken.None);
        var cs = ConnectionStrings.WithDatabase(server, database);
        await DemoDatabase.CreateAsync(cs, 2_000, CancellationToken.None);
        await PgBench.PrepareAsync(cs);
        var idle = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { ApplicationName = "bench-idle", Pooling = false }.ConnectionString);
                await c.OpenAsync();
                idle.Add(c);
            }
            var busy = PgBench.Start(pgbench, cs, 2_000, 20, 2_000, TimeSpan.FromSeconds(settings.Smoke ? 4 : 15), work);
            await Task.Delay(TimeSpan.FromSeconds(1));
            await using var sampler = await MetricSampler.OpenAsync(cs, "bench-cost", TimeProvider.System, CancellationToken.None);
            var server_ = new List<double>();
            var roundTrip = new List<double>();
            var connections = 0;
            for (var i = 0; i < 50; i++)
            {
                var clock = Stopwatch.StartNew();
                if (await sampler.SampleAsync(CancellationToken.None) is MetricSample s)
                {
                    roundTrip.Add(clock.Elapsed.TotalMilliseconds);
                    server_.Add(s.SampleDuration.TotalMilliseconds);
                    connections = s.Connections;
                }
                await Task.Delay(settings.Smoke ? 20 : 100);
            }
            await busy.FinishAsync();
            return (Latency.Of(server_).P50, Latency.Of(roundTrip).P50, connections);
        }
        finally
        {
            foreach (var c in idle) await c.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            await DatabaseAdmin.DropAsync(server, database, CancellationToken.None);
        }
    }

    private static async Task<string> ServerVersionAsync(string server)
    {
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT version()", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static string FindBinary(string name)
    {
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().ToArray() : [];
        foreach (var dir in versions)
        {
            var candidate = Path.Combine(dir, "bin", name);
            if (File.Exists(candidate)) return candidate;
        }
        return name;   // on PATH
    }
}
