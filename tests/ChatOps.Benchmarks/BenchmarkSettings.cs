using System.Globalization;

namespace ChatOps.Benchmarks;

/// <summary>What to run: table sizes, repetitions and the durations of each window.</summary>
public sealed record BenchmarkSettings(
    IReadOnlyList<int> Sizes,
    int Repetitions,
    TimeSpan Warmup,
    TimeSpan Baseline,
    TimeSpan Interference,
    TimeSpan Tail,
    int Clients,
    int Rate,
    bool Smoke,
    string? Connection,
    IReadOnlyList<string> Contenders,
    string? TraceDirectory,
    int? IndexBuildWorkers)
{
    /// <summary>Only the full default run rewrites RESULTS.md; any narrower run prints its report and leaves the file alone.</summary>
    public bool WritesResults { get; init; }

    /// <summary>The contenders by their option names, in the order they run in odd repetitions.</summary>
    public static readonly IReadOnlyList<string> AllContenders = ["psql", "engine", "control"];

    public const string Usage = """
        dotnet run -c Release --project tests/ChatOps.Benchmarks -- [--rows N] [--quick] [--smoke] [--repetitions R] [--connection CS] [--contenders LIST] [--trace DIR] [--index-build-workers N]
          --rows N         one table size instead of 10,000 / 100,000 / 1,000,000 contacts
          --quick          10,000 and 100,000 contacts
          --smoke          a few seconds on 2,000 contacts, to keep the benchmark working (not a measurement)
          --repetitions R  repetitions per size and contender (default 3; contenders alternate)
          --connection CS  use this PostgreSQL server instead of a throwaway one
          --contenders L   comma-separated subset of psql,engine,control (default: all three; control = the
                           long transaction alone, no migration: the latency floor the others are held to)
          --trace DIR      write each trial's statement spans and pgbench transactions to DIR (for diagnosis)
          --index-build-workers N  run the engine with ChatOps:Execution:IndexBuildWorkers = N
        Only the full default run (no option but --trace/--connection) rewrites RESULTS.md (keeping its verdict section).
        --verdicts       the verdict benchmark instead (false alarms vs real regressions; --verdicts --help)
        """;

    public static BenchmarkSettings Parse(string[] args)
    {
        IReadOnlyList<int> sizes = [10_000, 100_000, 1_000_000];
        var repetitions = 3;
        var smoke = false;
        string? connection = null;
        IReadOnlyList<string> contenders = AllContenders;
        string? trace = null;
        int? workers = null;
        var narrowed = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rows": narrowed = true; sizes = [int.Parse(Next(args, ref i), NumberStyles.AllowThousands, CultureInfo.InvariantCulture)]; break;
                case "--quick": narrowed = true; sizes = [10_000, 100_000]; break;
                case "--smoke": smoke = true; break;
                case "--repetitions": narrowed = true; repetitions = int.Parse(Next(args, ref i), CultureInfo.InvariantCulture); break;
                case "--connection": connection = Next(args, ref i); break;
                case "--trace": trace = Path.GetFullPath(Next(args, ref i)); break;
                case "--index-build-workers": workers = int.Parse(Next(args, ref i), CultureInfo.InvariantCulture); narrowed = true; break;
                case "--contenders":
                    narrowed = true;
                    contenders = Next(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (contenders.Count == 0 || contenders.Any(c => !AllContenders.Contains(c)))
                        throw new ArgumentException($"--contenders takes a comma-separated subset of {string.Join(",", AllContenders)}");
                    break;
                case "-h" or "--help": throw new ArgumentException("");
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (sizes.Any(s => s < 100) || repetitions < 1)
            throw new ArgumentException("--rows must be at least 100 and --repetitions at least 1");
        if (workers is < 0)
            throw new ArgumentException("--index-build-workers must be 0 or more");
        return smoke
            ? new BenchmarkSettings([2_000], 1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1), 4, 200, true, connection, contenders, trace, workers)
            : new BenchmarkSettings(sizes, repetitions, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), 8, 400, false, connection, contenders, trace, workers) { WritesResults = !narrowed };
    }

    private static string Next(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");
}
