namespace ChatOps.Benchmarks;

/// <summary>What to run in the inbound benchmarks (<c>--slack</c>, <c>--discord</c>): the load, its senders, how long the deployment beside it runs.</summary>
/// <param name="Reactions">Reactions on the waiting card: Slack <c>reaction_added</c> callbacks, or Discord dispatches pushed over the Gateway.</param>
/// <param name="Commands"><c>/migrate help</c>: Slack slash commands, or signed Discord interactions.</param>
/// <param name="RedeliveredShare">The share of Slack requests sent a second time with <c>X-Slack-Retry-Num</c>.</param>
/// <param name="RunningFor">How long the approved deployment's migration runs (statements of <c>pg_sleep</c>), so its thread is posting during the load.</param>
/// <param name="WritesResults">Only the full run rewrites its section of RESULTS.md.</param>
public sealed record InboundSettings(int Senders, int Reactions, int Commands, double RedeliveredShare, TimeSpan RunningFor, string? Connection, bool Smoke,
    bool WritesResults)
{
    public const string Usage = """
        dotnet run -c Release --project tests/ChatOps.Benchmarks -- --slack|--discord [--smoke] [--connection CS]
          `chatops serve` on 127.0.0.1 against the fake Slack (or Discord), on a throwaway PostgreSQL, with one deployment running (its
          thread posting) and one waiting for sign-offs. --slack: 2,000 signed reaction_added callbacks on the waiting card and 200
          `/migrate help` slash commands from 50 concurrent senders, 10 % of them delivered again with X-Slack-Retry-Num. --discord:
          1,000 signed `/migrate help` interactions from 50 concurrent senders while 2,000 MESSAGE_REACTION_ADD dispatches are pushed over
          the fake Gateway (one forced RESUME half-way). Prints acknowledgement latency, events handled per second, and events handled
          twice or lost (from the state database, the audit trail and the fake's record). --smoke: a tiny load (it measures nothing).
          Only the full run rewrites its section of RESULTS.md. Exit 1 when an event was handled twice or lost; never for slowness.
        """;

    public static InboundSettings Parse(IReadOnlyList<string> args, string platform)
    {
        var smoke = false;
        string? connection = null;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--slack" or "--discord": break;
                case "--smoke": smoke = true; break;
                case "--connection": connection = ++i < args.Count ? args[i] : throw new ArgumentException("--connection needs a value"); break;
                case "-h" or "--help": throw new ArgumentException("");
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        var slack = platform == "Slack";
        return smoke
            ? new InboundSettings(5, 40, slack ? 10 : 20, slack ? 0.1 : 0, TimeSpan.FromSeconds(20), connection, Smoke: true, WritesResults: false)
            : new InboundSettings(50, 2_000, slack ? 200 : 1_000, slack ? 0.1 : 0, TimeSpan.FromMinutes(5), connection, Smoke: false, WritesResults: true);
    }

}
