using System.Text.Json.Nodes;
using ChatOps.Testing.FakeSlack;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack.Tests;

/// <summary>The one Web API path against the fake Slack: rate limits, errors, retries, the token's place.</summary>
public sealed class ApiClientTests : IAsyncLifetime
{
    private readonly InstantTimeProvider _time = new();
    private readonly CollectingLoggerProvider _logs = new();
    private readonly HttpClient _http = new();
    private FakeSlackServer _slack = null!;
    private SlackApiClient _api = null!;

    public async Task InitializeAsync()
    {
        _slack = await FakeSlackServer.StartAsync();
        _api = new SlackApiClient(_http, _slack.ApiBaseUrl, FakeSlackServer.BotToken, _time, _logs.Factory().CreateLogger<SlackApiClient>());
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _slack.DisposeAsync();
    }

    private static JsonObject Message(string channel, string text) => new() { ["channel"] = channel, ["text"] = text };

    [Fact]
    public async Task A_429_storm_delays_but_loses_and_reorders_nothing()
    {
        _slack.FailNext("chat.postMessage", 3, new FakeSlackFailure.RateLimited(RetryAfterSeconds: 7));

        // Senders racing for one channel: each waits for the one before it, as the outbox dispatcher does per channel.
        var texts = Enumerable.Range(1, 12).Select(i => $"status {i}").ToList();
        foreach (var text in texts)
            await _api.CallAsync("chat.postMessage", Message("COPS", text), CancellationToken.None);

        Assert.Equal(texts, _slack.Messages.Select(m => m.Text));
        Assert.Equal(15, _slack.CallsOf("chat.postMessage").Count);
        var waits = _time.Waits;
        Assert.Equal(3, waits.Count);
        Assert.All(waits, w => Assert.InRange(w, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(7.5)));
    }

    [Fact]
    public async Task Concurrent_posts_to_one_channel_are_not_overtaken_while_one_waits_out_a_rate_limit()
    {
        _slack.FailNext("chat.postMessage", 2, new FakeSlackFailure.RateLimited(RetryAfterSeconds: 1));

        // Started in order, not awaited in between: the first call holds the channel until it is through.
        var first = _api.CallAsync("chat.postMessage", Message("COPS", "first"), CancellationToken.None);
        var second = _api.CallAsync("chat.postMessage", Message("COPS", "second"), CancellationToken.None);
        await ChatOps.Testing.Poll.WithinAsync(Task.WhenAll(first, second), "both posts");

        Assert.Equal(["first", "second"], _slack.Messages.Select(m => m.Text));
    }

    [Fact]
    public async Task Ok_false_is_a_typed_exception_with_slacks_error_code()
    {
        _slack.FailNext("chat.postMessage", 1, new FakeSlackFailure.Error("channel_not_found"));

        var ex = await Assert.ThrowsAsync<SlackApiException>(() => _api.CallAsync("chat.postMessage", Message("CNOPE", "hi"), CancellationToken.None));

        Assert.Equal("chat.postMessage", ex.Method);
        Assert.Equal("channel_not_found", ex.Error);
        Assert.Single(_slack.CallsOf("chat.postMessage"));
    }

    [Fact]
    public async Task Server_errors_are_retried_a_few_times_with_growing_pauses_then_thrown()
    {
        _slack.FailNext("chat.update", 2, new FakeSlackFailure.ServerError(503));
        var posted = await _api.CallAsync("chat.postMessage", Message("COPS", "v1"), CancellationToken.None);
        var update = new JsonObject { ["channel"] = "COPS", ["ts"] = posted.GetProperty("ts").GetString(), ["text"] = "v2" };

        await _api.CallAsync("chat.update", update, CancellationToken.None);
        Assert.Equal("v2", Assert.Single(_slack.Messages).Text);
        // First 1 s, then doubled, each with up to 0.5 s of jitter.
        Assert.InRange(_time.Waits[0], TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.5));
        Assert.InRange(_time.Waits[1], TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2.5));

        _slack.FailNext("chat.update", 10, new FakeSlackFailure.ServerError(500));
        var ex = await Assert.ThrowsAsync<SlackApiException>(() => _api.CallAsync("chat.update", update.DeepClone().AsObject(), CancellationToken.None));
        Assert.Equal("http_500", ex.Error);
        Assert.Equal(3 + new SlackRetryPolicy().MaxTransientTries, _slack.CallsOf("chat.update").Count);
    }

    [Fact]
    public async Task An_unreachable_slack_is_retried_then_reported()
    {
        var nowhere = new SlackApiClient(_http, new Uri("http://127.0.0.1:9/api/"), FakeSlackServer.BotToken, _time,
            _logs.Factory().CreateLogger<SlackApiClient>(), new SlackRetryPolicy { MaxTransientTries = 2 });

        var ex = await Assert.ThrowsAsync<SlackApiException>(() => nowhere.CallAsync("auth.test", [], CancellationToken.None));

        Assert.Equal("unreachable", ex.Error);
        Assert.Single(_time.Waits);
    }

    [Fact]
    public async Task The_token_goes_in_the_authorization_header_and_never_into_a_log_line()
    {
        _slack.FailNext("chat.postMessage", 1, new FakeSlackFailure.RateLimited(1));
        await _api.CallAsync("chat.postMessage", Message("COPS", "hello"), CancellationToken.None);
        await _api.CallFormAsync("usergroups.users.list", new Dictionary<string, string> { ["usergroup"] = "SNONE" }, CancellationToken.None)
            .ContinueWith(_ => { }, TaskScheduler.Default);

        Assert.All(_slack.Calls, c => Assert.Equal("Bearer " + FakeSlackServer.BotToken, c.Authorization));
        Assert.All(_slack.Calls, c => Assert.DoesNotContain(FakeSlackServer.BotToken, c.Body));
        Assert.NotEmpty(_logs.Lines);
        Assert.All(_logs.Lines, line => Assert.DoesNotContain("xoxb-", line));
        Assert.Contains(_logs.Lines, line => line.Contains("chat.postMessage", StringComparison.Ordinal) && line.Contains("rate limited", StringComparison.Ordinal));
        Assert.Contains(_logs.Lines, line => line.Contains("usergroups.users.list", StringComparison.Ordinal) && line.Contains("no_such_subteam", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_token_is_invalid_auth()
    {
        var wrong = new SlackApiClient(_http, _slack.ApiBaseUrl, "xoxb-revoked", _time, _logs.Factory().CreateLogger<SlackApiClient>());

        var ex = await Assert.ThrowsAsync<SlackApiException>(() => wrong.CallAsync("auth.test", [], CancellationToken.None));

        Assert.Equal("invalid_auth", ex.Error);
    }
}
