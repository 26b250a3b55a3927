using ChatOps.Benchmarks;

// The engine side by side with a plain `psql -f`, under application load, with a long transaction in
// the way, at growing table sizes. Prints a Markdown report and writes it to RESULTS.md.
if (args.Contains("--verdicts"))
{
    // Does the verdict tell a regression from noise? (issue: verdicts you can act on)
    try
    {
        return await new VerdictBenchmark(VerdictSettings.Parse(args), Console.Out).RunAsync();
    }
    catch (ArgumentException ex)
    {
        if (ex.Message.Length > 0) Console.Error.WriteLine(ex.Message);
        Console.Error.WriteLine(VerdictSettings.Usage);
        return ex.Message.Length > 0 ? 2 : 0;
    }
}

BenchmarkSettings settings;
try
{
    settings = BenchmarkSettings.Parse(args);
}
catch (ArgumentException ex)
{
    if (ex.Message.Length > 0) Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(BenchmarkSettings.Usage);
    return ex.Message.Length > 0 ? 2 : 0;
}
return await new Benchmark(settings, Console.Out).RunAsync();
