using ChatOps.Benchmarks;

// The engine side by side with a plain `psql -f`, under load, with a long transaction in the way, at growing table sizes. Prints a
// Markdown report and writes it to RESULTS.md. --verdicts, --slack and --discord are benchmarks of their own (each its section).
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
if (args.Contains("--slack") || args.Contains("--discord"))
{
    // Inbound events through the real host: acknowledgement latency, throughput, none handled twice, none lost (issues 15 and 16).
    var slack = args.Contains("--slack");
    InboundSettings inbound;
    try
    {
        inbound = InboundSettings.Parse(args, slack ? "Slack" : "Discord");
    }
    catch (ArgumentException ex)
    {
        if (ex.Message.Length > 0) Console.Error.WriteLine(ex.Message);
        Console.Error.WriteLine(InboundSettings.Usage);
        return ex.Message.Length > 0 ? 2 : 0;
    }
    using var interrupted = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; interrupted.Cancel(); };
    return slack
        ? await new SlackInboundBenchmark(inbound, Console.Out).RunAsync(interrupted.Token)
        : await new DiscordInboundBenchmark(inbound, Console.Out).RunAsync(interrupted.Token);
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
