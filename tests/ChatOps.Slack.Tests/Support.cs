using System.Collections.Concurrent;
using ChatOps.Core.Conversation;
using ChatOps.Slack;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack.Tests;

/// <summary>Our own seam, faked: takes each event id once, as the durable inbox does; can be told to fail or to hold.</summary>
internal sealed class RecordingInbox : IChatInbox
{
    private readonly ConcurrentQueue<ChatEvent> _offered = new();
    private readonly ConcurrentDictionary<string, ChatEvent> _taken = new();
    private volatile TaskCompletionSource? _hold;
    private int _failures;

    /// <summary>Every event offered, redeliveries included, in order.</summary>
    public IReadOnlyList<ChatEvent> Offered => [.. _offered];

    /// <summary>Events taken (first delivery of each id).</summary>
    public IReadOnlyCollection<ChatEvent> Taken => [.. _taken.Values];

    /// <summary>The next <paramref name="times"/> calls throw, as a database outage would.</summary>
    public void FailNext(int times) => Interlocked.Exchange(ref _failures, times);

    /// <summary>Calls wait until the returned source is completed.</summary>
    public TaskCompletionSource Hold() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<bool> AcceptAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        _offered.Enqueue(chatEvent);
        if (_hold is { } hold)
            await hold.Task.WaitAsync(cancellationToken);
        if (Interlocked.Decrement(ref _failures) >= 0)
            throw new InvalidOperationException("the inbox's database is down");
        return _taken.TryAdd(chatEvent.EventId, chatEvent);
    }
}

/// <summary>A clock whose waits end at once (on the thread pool), each wait recorded and the clock moved on by it.</summary>
internal sealed class InstantTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly ConcurrentQueue<TimeSpan> _waits = new();
    private DateTimeOffset _now = start;

    public InstantTimeProvider() : this(new DateTimeOffset(2025, 8, 3, 2, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>Every wait asked for, in order.</summary>
    public IReadOnlyList<TimeSpan> Waits => [.. _waits];

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
            return _now;
    }

    public void Advance(TimeSpan by)
    {
        lock (_gate)
            _now += by;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class Timer(InstantTimeProvider time, TimerCallback callback, object? state) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime == Timeout.InfiniteTimeSpan)
                return true;
            time._waits.Enqueue(dueTime);
            time.Advance(dueTime);
            ThreadPool.QueueUserWorkItem(_ => callback(state));
            return true;
        }

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>Log lines, kept to check what is (and is not) written.</summary>
internal sealed class CollectingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILoggerFactory Factory() => LoggerFactory.Create(b => b.AddProvider(this).SetMinimumLevel(LogLevel.Trace));

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CollectingLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider._lines.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}

/// <summary>The Slack endpoints in a real ASP.NET Core host on 127.0.0.1, the way the bot's host maps them.</summary>
internal sealed class SlackEndpointHost : IAsyncDisposable
{
    public const string SigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    public const string ChannelId = "COPS";

    private readonly WebApplication _app;

    private SlackEndpointHost(WebApplication app, Uri baseUrl, CollectingLoggerProvider logs)
    {
        _app = app;
        BaseUrl = baseUrl;
        Logs = logs;
        Client = new HttpClient { BaseAddress = baseUrl };
    }

    public Uri BaseUrl { get; }
    public HttpClient Client { get; }
    public CollectingLoggerProvider Logs { get; }

    public static async Task<SlackEndpointHost> StartAsync(IChatInbox inbox, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var logs = new CollectingLoggerProvider();
        var loggers = logs.Factory();
        var inbound = new SlackInbound(inbox, ChannelId, loggers.CreateLogger<SlackInbound>());
        app.MapSlackEndpoints(new SlackEndpointsContext(new SlackRequestVerifier(SigningSecret, time ?? TimeProvider.System), inbound,
            loggers.CreateLogger("ChatOps.Slack.Endpoints")));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SlackEndpointHost(app, new Uri(address.TrimEnd('/') + "/"), logs);
    }

    public Uri Url(string path) => new(BaseUrl, path);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
