using System.Text.Json.Nodes;
using ChatOps.Discord.Rest;
using ChatOps.Testing.FakeDiscord;

namespace ChatOps.Discord.Tests;

public sealed class RestClientTests : IAsyncLifetime
{
    private FakeDiscordServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeDiscordServer.StartAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    private static DiscordRequest Post(string text) => DiscordRequest.Json(HttpMethod.Post, "channels/{channel}/messages",
        $"channels/{Discord.ChannelId}/messages", new JsonObject { ["content"] = text }, Discord.ChannelId);

    [Fact]
    public async Task Every_call_carries_the_bot_token_and_a_Discord_user_agent()
    {
        var rest = Discord.Rest(Discord.Options(_fake));
        await rest.SendAsync(Post("hello"), CancellationToken.None);
        var request = Assert.Single(_fake.Requests);
        Assert.Equal("Bot " + _fake.BotToken, request.Authorization);
        Assert.StartsWith("DiscordBot (https://", request.UserAgent, StringComparison.Ordinal);
        Assert.Equal("application/json; charset=utf-8", request.ContentType);
    }

    [Fact]
    public async Task A_429_storm_delivers_every_message_once_and_in_order_each_retry_no_sooner_than_its_retry_after()
    {
        // The first message is refused three times, once globally; then the route's own limit refuses whoever goes over it.
        double[] retryAfter = [0.3, 0.4, 0.3];
        _fake.Script("POST", "/messages",
            FakeReply.RateLimited(retryAfter[0]), FakeReply.RateLimited(retryAfter[1], global: true), FakeReply.RateLimited(retryAfter[2]));
        _fake.LimitRoute("POST", "/messages", limit: 3, window: TimeSpan.FromMilliseconds(300));
        var rest = Discord.Rest(Discord.Options(_fake));

        var texts = Enumerable.Range(1, 12).Select(i => $"message {i}").ToList();
        // Sent concurrently, as the conductor's posts may be: the order of calls is the order of arrival.
        var sends = new List<Task>();
        foreach (var text in texts)
            sends.Add(rest.SendAsync(Post(text), CancellationToken.None));
        await Testing.Poll.WithinAsync(Task.WhenAll(sends), "every message sent");

        Assert.Equal(texts, _fake.MessagesIn(Discord.ChannelId).Select(m => m.Payload["content"]!.GetValue<string>()));
        // One at a time on the route: each of the first four requests is the first message again, sent once its retry_after had passed.
        var first = _fake.Requests.Take(4).ToList();
        Assert.All(first, r => Assert.Equal("message 1", r.Json!["content"]!.GetValue<string>()));
        for (var i = 0; i < retryAfter.Length; i++)
            Assert.True(first[i + 1].At - first[i].At >= TimeSpan.FromSeconds(retryAfter[i]),
                $"retry {i + 1} came {(first[i + 1].At - first[i].At).TotalMilliseconds:0} ms after a 429 asking for {retryAfter[i] * 1000:0} ms");
    }

    [Fact]
    public async Task A_global_429_holds_back_calls_on_every_route_until_its_retry_after_has_passed()
    {
        const double retryAfter = 0.5;
        _fake.Script("POST", "/messages", FakeReply.RateLimited(retryAfter, global: true));
        var logger = new RecordingLogger<DiscordRestClient>();
        var rest = new DiscordRestClient(new HttpClient(), Discord.Options(_fake), TimeProvider.System, logger, TimeSpan.FromMilliseconds(10));

        var post = rest.SendAsync(Post("limited"), CancellationToken.None);
        // Once the client has read the global 429, a call on another route (and another resource) waits as well.
        await Testing.Poll.UntilAsync(() => Task.FromResult(logger.Lines.Any(l => l.Contains("rate-limited (global)", StringComparison.Ordinal))),
            "the client to read the global 429");
        var me = await rest.SendAsync(new DiscordRequest(HttpMethod.Get, "users/@me", "users/@me"), CancellationToken.None);
        await Testing.Poll.WithinAsync(post, "the limited message sent");

        Assert.Equal(_fake.BotUserId, me.GetProperty("id").GetString());
        var limited = _fake.Requests[0];
        var other = Assert.Single(_fake.Requests, r => r.Path == "users/@me");
        var retried = _fake.Requests.Last(r => r.Method == "POST");
        Assert.True(other.At - limited.At >= TimeSpan.FromSeconds(retryAfter),
            $"GET users/@me went {(other.At - limited.At).TotalMilliseconds:0} ms after a global 429 asking for {retryAfter * 1000:0} ms");
        Assert.True(retried.At - limited.At >= TimeSpan.FromSeconds(retryAfter));
        Assert.Single(_fake.MessagesIn(Discord.ChannelId));
    }

    [Fact]
    public async Task Bucket_headers_are_honoured_before_Discord_has_to_refuse()
    {
        _fake.LimitRoute("POST", "/messages", limit: 2, window: TimeSpan.FromMilliseconds(200));
        var rest = Discord.Rest(Discord.Options(_fake));
        for (var i = 0; i < 7; i++)
            await rest.SendAsync(Post($"m{i}"), CancellationToken.None);
        Assert.Equal(7, _fake.MessagesIn(Discord.ChannelId).Count);
        // The first answer names the bucket; from then on the client waits out each window itself.
        Assert.Equal(0, _fake.RateLimitViolations);
    }

    [Fact]
    public async Task A_4xx_becomes_a_typed_exception_with_Discords_code_and_is_not_retried()
    {
        _fake.Script("POST", "/messages", FakeReply.Error(403, 50013, "Missing Permissions"));
        var rest = Discord.Rest(Discord.Options(_fake));
        var e = await Assert.ThrowsAsync<DiscordApiException>(() => rest.SendAsync(Post("x"), CancellationToken.None));
        Assert.Equal(403, e.Status);
        Assert.Equal(50013, e.Code);
        Assert.Equal("Missing Permissions", e.DiscordMessage);
        Assert.DoesNotContain(_fake.BotToken, e.Message, StringComparison.Ordinal);
        Assert.Single(_fake.Requests);
    }

    [Fact]
    public async Task A_5xx_is_retried_a_bounded_number_of_times()
    {
        _fake.Script("POST", "/messages", FakeReply.ServerError(), FakeReply.ServerError());
        var rest = Discord.Rest(Discord.Options(_fake));
        await rest.SendAsync(Post("after two failures"), CancellationToken.None);
        Assert.Equal(3, _fake.Requests.Count);
        Assert.Single(_fake.MessagesIn(Discord.ChannelId));

        _fake.Script("POST", "/messages", Enumerable.Repeat(FakeReply.ServerError(), 10).ToArray());
        var e = await Assert.ThrowsAsync<DiscordApiException>(() => rest.SendAsync(Post("never"), CancellationToken.None));
        Assert.Equal(500, e.Status);
        Assert.Equal(3 + 4, _fake.Requests.Count);
    }

    [Fact]
    public async Task A_wrong_token_is_a_401_exception()
    {
        var options = Discord.Options(_fake);
        options.BotToken = "wrong";
        var e = await Assert.ThrowsAsync<DiscordApiException>(() => Discord.Rest(options).SendAsync(Post("x"), CancellationToken.None));
        Assert.Equal(401, e.Status);
    }
}
