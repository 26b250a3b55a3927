using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ChatOps.Bot.Hosting;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Runbooks;
using ChatOps.Discord.Rest;
using ChatOps.Slack;
using ChatOps.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace ChatOps.Bot.Tests;

/// <summary>One scrape of <c>/metrics</c>: every sample line by its series (<c>name{labels}</c>).</summary>
internal sealed record Scrape(string Text, IReadOnlyDictionary<string, double> Series)
{
    public static Scrape Parse(string text) => new(text, text.Split('\n')
        .Where(line => line.Length > 0 && line[0] != '#')
        .Select(line => (Series: line[..line.LastIndexOf(' ')], Value: line[(line.LastIndexOf(' ') + 1)..]))
        .ToDictionary(s => s.Series, s => double.Parse(s.Value.Replace("+Inf", "Infinity"), CultureInfo.InvariantCulture)));

    public double? this[string series] => Series.TryGetValue(series, out var value) ? value : null;

    public static async Task<Scrape?> TryAsync(HttpClient http, Uri metrics)
    {
        try
        {
            using var response = await http.GetAsync(metrics);
            return response.StatusCode == HttpStatusCode.OK ? Parse(await response.Content.ReadAsStringAsync()) : null;
        }
        catch (HttpRequestException)
        {
            return null;   // not listening yet
        }
    }
}

/// <summary><c>/metrics</c> served in process the way <c>serve</c> serves it: a real Kestrel on 127.0.0.1, a free port.</summary>
internal sealed class MetricsHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MetricsHost(WebApplication app, Uri metrics)
    {
        _app = app;
        Metrics = metrics;
    }

    public Uri Metrics { get; }
    public HttpClient Http { get; } = new();

    public static async Task<MetricsHost> StartAsync(BotMetrics metrics)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapBotMetrics(metrics);
        await app.StartAsync();
        return new MetricsHost(app, new Uri(new Uri(app.Urls.First()), "/metrics"));
    }

    public async Task<Scrape> ScrapeAsync() => await Scrape.TryAsync(Http, Metrics) ?? throw new InvalidOperationException($"{Metrics} did not answer 200");

    /// <summary>Scrapes until <paramref name="ready"/> holds (the state database is read every few hundred milliseconds here).</summary>
    public async Task<Scrape> ScrapeUntilAsync(Func<Scrape, bool> ready, string what)
    {
        Scrape? last = null;
        await Poll.UntilAsync(async () => ready(last = await ScrapeAsync()), what, TimeSpan.FromMinutes(1), () => Task.FromResult(last?.Text ?? "(no scrape)"));
        return last!;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A logger that keeps what it was told (to wait for a logged failure instead of sleeping).</summary>
internal sealed class CollectingLogger<T> : ILogger<T>
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
                return [.. _lines];
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
            _lines.Add($"{logLevel}: {formatter(state, exception)}");
    }
}

/// <summary>A platform whose first calls fail with the given exceptions, in order; then it works (a hand-written fake of our port).</summary>
internal sealed class ScriptedFailuresChannel(LocalChannel inner, params Exception[] failures) : WrappedChannel(inner)
{
    private int _calls;

    protected override void BeforeCall()
    {
        var call = Interlocked.Increment(ref _calls);
        if (call <= failures.Length)
            throw failures[call - 1];
    }
}

/// <summary><c>GET /metrics</c>: the bot's series in a real scrape, after real work against real PostgreSQL.</summary>
public class MetricsTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly string[] SignOffs = ["react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1"];

    private async Task ResetStateAsync()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state_away CASCADE");
    }

    private static BotMetrics NewMetrics(ILogger<BotMetrics>? logger = null) =>
        new(TimeProvider.System, logger ?? new CollectingLogger<BotMetrics>()) { RefreshInterval = TimeSpan.FromMilliseconds(200) };

    [Fact]
    public async Task After_a_deployment_the_scrape_shows_it_completed_its_phases_its_lock_hold_the_duplicate_and_an_empty_outbox()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("metrics_note", "ALTER TABLE public.contacts ADD COLUMN IF NOT EXISTS metrics_note text;\n",
            rollback: "ALTER TABLE public.contacts DROP COLUMN IF EXISTS metrics_note;");
        using var metrics = NewMetrics();
        await using var host = await MetricsHost.StartAsync(metrics);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, metrics: metrics);
        await bot.StartAsync();

        await bot.SayAsync(["/migrate start metrics_note", .. SignOffs]);
        await bot.SettleAsync();
        Assert.Contains("🟢 VERDICT: SUCCESS", bot.Transcript);
        // The platform delivers one command twice: accepted once, the second a duplicate.
        var command = new CommandReceived("/migrate help", "req", "local", "Ev-metrics-1");
        Assert.True(await bot.Bot.Inbox.For("Local").AcceptAsync(command, CancellationToken.None));
        Assert.False(await bot.Bot.Inbox.For("Local").AcceptAsync(command, CancellationToken.None));
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None);

        var scrape = await host.ScrapeUntilAsync(s => s["chatops_deployments{state=\"Completed\"}"] == 1 && s["chatops_outbox_pending"] == 0,
            "the completed deployment and the empty outbox to be read");

        Assert.Equal(0, scrape["chatops_deployments{state=\"Running\"}"]);
        Assert.Equal(0, scrape["chatops_outbox_parked"]);
        Assert.Equal(0, scrape["chatops_outbox_oldest_age_seconds"]);
        Assert.Equal(1, scrape["chatops_phase_duration_seconds_count{phase=\"migration\"}"]);
        Assert.True(scrape["chatops_phase_duration_seconds_sum{phase=\"migration\"}"] > 0, scrape.Text);
        Assert.Equal(1, scrape["chatops_phase_duration_seconds_count{phase=\"validation\"}"]);
        // ALTER TABLE takes ACCESS EXCLUSIVE on contacts until its commit: one hold observed.
        Assert.Equal(1, scrape["chatops_lock_hold_seconds_count"]);
        Assert.Equal(0, scrape["chatops_executor_retries_total"]);
        // Seven lines and reactions went in, and the command delivered twice; all were handled but the duplicate.
        Assert.Equal(1, scrape["chatops_inbox_events_total{result=\"duplicate\"}"]);
        Assert.Equal(6, scrape["chatops_inbox_events_total{result=\"accepted\"}"]);
        Assert.Equal(6, scrape["chatops_inbox_handled_total"]);
        Assert.True(scrape["chatops_platform_calls_total{platform=\"Local\",result=\"ok\"}"] >= 6, scrape.Text);
        Assert.Equal(0, scrape["chatops_platform_calls_total{platform=\"Local\",result=\"error\"}"]);
        var database = target.Name;
        Assert.NotNull(scrape[$"chatops_app_lock_wait_seconds{{database=\"{database}\"}}"]);
        Assert.Equal(0, scrape[$"chatops_blocked_sessions{{blocked_by=\"migration\",database=\"{database}\"}}"]);
    }

    [Fact]
    public async Task Platform_calls_are_counted_by_result_a_429_left_after_the_adapters_retries_apart_from_errors()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("metrics_calls", "CREATE TABLE metrics_calls (id int);\n");
        var output = new StringWriter();
        var local = new LocalChannel(output);
        using var metrics = NewMetrics();
        await using var host = await MetricsHost.StartAsync(metrics);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: local, output: output,
            platform: new ScriptedFailuresChannel(local,
                new SlackApiException("chat.postMessage", "ratelimited", "20 answers of 429 in a row"),
                new DiscordApiException(429, null, "You are being rate limited.", "POST channels/{channel}/messages"),
                new HttpRequestException("503 Service Unavailable (on purpose)")),
            fastRetries: true, metrics: metrics);
        await bot.StartAsync();

        await bot.SayAsync("/migrate help");

        Assert.Single(local.Printed);
        var scrape = await host.ScrapeAsync();
        Assert.Equal(2, scrape["chatops_platform_calls_total{platform=\"Local\",result=\"rate_limited\"}"]);
        Assert.Equal(1, scrape["chatops_platform_calls_total{platform=\"Local\",result=\"error\"}"]);
        Assert.Equal(1, scrape["chatops_platform_calls_total{platform=\"Local\",result=\"ok\"}"]);
    }

    [Fact]
    public async Task A_state_database_that_cannot_be_read_keeps_the_last_values_on_the_scrape_and_is_logged()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("metrics_away", "CREATE TABLE metrics_away (id int);\n");
        var logger = new CollectingLogger<BotMetrics>();
        using var metrics = NewMetrics(logger);
        await using var host = await MetricsHost.StartAsync(metrics);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, metrics: metrics);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start metrics_away");
        await host.ScrapeUntilAsync(s => s["chatops_deployments{state=\"AwaitingApproval\"}"] == 1 && s["chatops_outbox_pending"] == 0,
            "the deployment awaiting approval to be read");

        await state.ExecuteAsync("ALTER SCHEMA chatops_state RENAME TO chatops_state_away");
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(logger.Lines.Any(l => l.Contains("could not be read", StringComparison.Ordinal))),
                "the failed reading to be logged", TimeSpan.FromMinutes(1));
            var scrape = await host.ScrapeAsync();
            Assert.Equal(1, scrape["chatops_deployments{state=\"AwaitingApproval\"}"]);
            Assert.Equal(0, scrape["chatops_outbox_pending"]);
            Assert.Single(logger.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal));
        }
        finally
        {
            await state.ExecuteAsync("ALTER SCHEMA chatops_state_away RENAME TO chatops_state");
        }
        await Poll.UntilAsync(() => Task.FromResult(logger.Lines.Any(l => l.Contains("can be read again", StringComparison.Ordinal))),
            "the reading to recover", TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Serve_answers_metrics_with_the_deployment_it_ran()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("metrics_serve", "CREATE TABLE metrics_serve (id int);\n");
        var environment = folder.Environment(("ConnectionStrings__State", state.ConnectionString), ("ConnectionStrings__Target", target.ConnectionString),
            ("ChatOps__Roles__DatabaseAdministrator__0", "dan"), ("ChatOps__Roles__SeniorBackendEngineer__0", "sam"), ("ChatOps__Roles__SeniorBackendEngineer__1", "req"),
            ("ChatOps__Roles__DevOpsLead__0", "olga"), ("ChatOps__Roles__ProductOwner__0", "pete"), ("ChatOps__Monitoring__SampleInterval", "00:00:00.500"),
            ("ChatOps__PostDeployment__Extended", "00:00:02"));
        var port = FreePort();
        using var serve = ChatOpsProcess.Start(["serve", "--urls", $"http://127.0.0.1:{port}"], environment, input: $"""
            as req
            /migrate start metrics_serve
            {string.Join("\n", SignOffs)}

            """, keepInputOpen: true);
        using var http = new HttpClient();
        var metrics = new Uri($"http://127.0.0.1:{port}/metrics");

        Scrape? last = null;
        // The state database is read every 5 s in serve: a generous poll, no fixed wait.
        await Poll.UntilAsync(async () => (last = await Scrape.TryAsync(http, metrics)) is { } s
                                          && s["chatops_deployments{state=\"Completed\"}"] == 1 && s["chatops_outbox_pending"] == 0,
            "serve's /metrics to show the completed deployment", TimeSpan.FromMinutes(2), () => Task.FromResult(last?.Text ?? serve.Output));
        serve.CloseInput();
        var result = await serve.WaitAsync();

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Equal(1, last!["chatops_phase_duration_seconds_count{phase=\"migration\"}"]);
        Assert.Equal(5, last["chatops_inbox_handled_total"]);
        Assert.Contains("# TYPE chatops_phase_duration_seconds histogram", last.Text);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
