using ChatOps.Bot.Conversation;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Bot.Scheduling;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Scheduling;
using ChatOps.Postgres.Migrations;
using ChatOps.Postgres.Options;
using ChatOps.Postgres.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatOps.Bot.Tests;

/// <summary>
/// One replica of the bot in process, on the local channel, against a real state database and target: lines go in through the
/// inbox exactly as <c>serve</c>'s standard input does, and every message comes out of the outbox onto the channel's transcript.
/// </summary>
public sealed class LocalBot : IAsyncDisposable
{
    private readonly LocalInput _input;

    /// <param name="channel">The platform, when several replicas share one (as they share one Slack workspace); a new one when null.</param>
    /// <param name="time">The bot's clock (a <see cref="ShiftedClock"/> to jump past a deadline); the system's when null.</param>
    /// <param name="signOffWatch">How often the <see cref="SignOffWatch"/> looks (expired sign-offs, changed files); its default, 5 s, when null.</param>
    public LocalBot(string state, string target, string migrations, RoleHolders holders, string user = "req", TimeSpan? sampleInterval = null,
        IReadOnlyDictionary<string, string>? namedTargets = null, LocalChannel? channel = null, StringWriter? output = null, IChatChannel? platform = null,
        bool fastRetries = false, BotMetrics? metrics = null, TimeProvider? time = null, ReportingPolicy? reporting = null, MaintenanceWindow? window = null,
        IDeploymentSchedule? schedule = null, TimeSpan? signOffWatch = null)
    {
        Output = output ?? new StringWriter();
        Channel = channel ?? new LocalChannel(Output) { Holders = holders };
        Connections = new StateConnections(state);
        Bot = new ChatOpsBot(new BotParts(Connections, new MigrationCatalog(migrations), new Targets(target, namedTargets ?? new Dictionary<string, string>()), holders,
            new SignOffPolicy(), new DeploymentPermissions(holders), new ExecutionOptions(),
            new MonitoringOptions { SampleInterval = sampleInterval ?? TimeSpan.FromMilliseconds(500) }, time ?? TimeProvider.System, NullLoggerFactory.Instance,
                reporting ?? NoMonitoring, window, signOffWatch),
            new Dictionary<string, IChatChannel> { ["Local"] = platform ?? Channel }, fastRetries ? TimeSpan.FromMilliseconds(20) : null, metrics, schedule);
        _input = new LocalInput(Bot.Conductors["Local"].CardOf, initialUser: user);
    }

    /// <summary>The default policy without post-deployment monitoring: a passing verdict completes the deployment (the tests of monitoring set their own).</summary>
    public static ReportingPolicy NoMonitoring { get; } = ReportingPolicy.Default with { Cadence = new() { Immediate = TimeSpan.Zero, Extended = TimeSpan.Zero } };

    public StringWriter Output { get; }
    public LocalChannel Channel { get; }
    public StateConnections Connections { get; }
    public ChatOpsBot Bot { get; }
    public string Transcript => Output.ToString();

    public async Task StartAsync()
    {
        await StateDatabase.MigrateAsync(Connections.ConnectionString, CancellationToken.None);
        await Bot.StartAsync(CancellationToken.None);
    }

    /// <summary>One line of local input; returns once the bot has answered it (runs go on in the background).</summary>
    public async Task SayAsync(string line)
    {
        // Another replica may have handled the start (the inbox is shared): the cards are read before a line names one.
        await Bot.Conductors["Local"].LoadCardsAsync(CancellationToken.None);
        switch (_input.Read(line))
        {
            case LocalLine.Event e:
                await Bot.Inbox.For("Local").AcceptAsync(e.Value, CancellationToken.None);
                await Bot.SettleAsync(TimeSpan.FromMinutes(2), CancellationToken.None, runs: false);
                break;
            case LocalLine.Notice:
                break;   // "you are now …"
            case var other:
                throw new InvalidOperationException($"{line}: {other}");
        }
    }

    public async Task SayAsync(params string[] lines)
    {
        foreach (var line in lines)
            await SayAsync(line);
    }

    /// <summary>Waits for every run and rollback to end and every message to be sent.</summary>
    public Task SettleAsync(TimeSpan? timeout = null) => Bot.SettleAsync(timeout ?? TimeSpan.FromMinutes(4), CancellationToken.None);

    public async Task<ChatMessage?> CardAsync(int deployment) => Bot.Conductors["Local"].CardOf(new DeploymentId(deployment)) is { } key
        && await Bot.Outbox.PlatformReferenceAsync("Local", key.MessageId, CancellationToken.None) is { } posted
            ? Channel.Message(posted)
            : null;

    public async ValueTask DisposeAsync()
    {
        await Bot.StopAsync();
        await Connections.DisposeAsync();
    }
}
