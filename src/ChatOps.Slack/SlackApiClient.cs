using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace ChatOps.Slack;

/// <summary>A Web API call Slack answered with <c>ok:false</c> (or could not be made): <see cref="Error"/> is Slack's code.</summary>
public sealed class SlackApiException(string method, string error, string? detail = null)
    : Exception($"Slack {method} failed: {error}{(detail is null ? "" : " (" + detail + ")")}")
{
    /// <summary>The Web API method (<c>chat.postMessage</c>), or what was posted to (<c>response_url</c>, <c>file upload</c>).</summary>
    public string Method { get; } = method;

    /// <summary>Slack's error code (<c>invalid_auth</c>, <c>channel_not_found</c>, <c>ratelimited</c>), or <c>http_503</c> and the like.</summary>
    public string Error { get; } = error;
}

/// <summary>How long <see cref="SlackApiClient"/> keeps trying. Rate limits are waited out (Slack says how long); other
/// failures get a few tries with a growing pause.</summary>
public sealed record SlackRetryPolicy
{
    /// <summary>Answers of 429 in a row before the call fails with <c>ratelimited</c>.</summary>
    public int MaxRateLimitedTries { get; init; } = 20;

    /// <summary>Tries in all when Slack answers 5xx or cannot be reached.</summary>
    public int MaxTransientTries { get; init; } = 4;

    /// <summary>The pause after the first transient failure; doubled each time, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Added at random to each pause, so that waiting clients do not all come back at the same instant.</summary>
    public TimeSpan MaxJitter { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The wait on a 429 without a usable <c>Retry-After</c>.</summary>
    public TimeSpan DefaultRetryAfter { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// The one way out to Slack: every Web API method, the <c>response_url</c> replies and file uploads go through
/// <see cref="SendAsync"/>, which waits out 429s (<c>Retry-After</c> + jitter), retries 5xx and network failures a few
/// times, and logs each call's method and result — never the token. Calls about one channel are made one at a time, so a
/// message waiting out a rate limit is never overtaken by the next.
/// </summary>
public sealed class SlackApiClient
{
    private readonly HttpClient _http;
    private readonly Uri _baseUrl;
    private readonly string _token;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SlackRetryPolicy _retry;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _channelGates = new(StringComparer.Ordinal);

    /// <param name="http">Any client (the host's factory's, or a test's); its base address is not used.</param>
    /// <param name="apiBaseUrl"><c>Slack:ApiBaseUrl</c> (<see cref="SlackOptions.ApiBaseUri"/>).</param>
    /// <param name="token">The bot token (<c>xoxb-</c>) for the bot's calls, the app token (<c>xapp-</c>) for Socket Mode's.</param>
    public SlackApiClient(HttpClient http, Uri apiBaseUrl, string token, TimeProvider time, ILogger<SlackApiClient> logger, SlackRetryPolicy? retry = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(apiBaseUrl);
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _http = http;
        _baseUrl = apiBaseUrl.AbsoluteUri.EndsWith('/') ? apiBaseUrl : new Uri(apiBaseUrl.AbsoluteUri + "/");
        _token = token;
        _time = time;
        _logger = logger;
        _retry = retry ?? new SlackRetryPolicy();
    }

    /// <summary>Calls <paramref name="method"/> with a JSON body; the answer when <c>ok</c> is true, else <see cref="SlackApiException"/>.</summary>
    public Task<JsonElement> CallAsync(string method, JsonObject arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var json = arguments.ToJsonString();
        return CallMethodAsync(method, OrderingKey(arguments["channel"]?.GetValue<string>() ?? arguments["channel_id"]?.GetValue<string>()),
            () => new StringContent(json, Encoding.UTF8, "application/json"), cancellationToken);
    }

    /// <summary>Calls <paramref name="method"/> with a form body, for the methods that take no JSON (<c>files.*</c>, <c>usergroups.users.list</c>).</summary>
    public Task<JsonElement> CallFormAsync(string method, IReadOnlyDictionary<string, string> arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var pairs = arguments.ToList();
        return CallMethodAsync(method, OrderingKey(arguments.GetValueOrDefault("channel") ?? arguments.GetValueOrDefault("channel_id")),
            () => new FormUrlEncodedContent(pairs), cancellationToken);
    }

    /// <summary>
    /// Posts to a URL Slack handed out (a command's <c>response_url</c>, a file's <c>upload_url</c>): no token, since the URL
    /// is the credential; succeeds on 2xx unless the answer is JSON with <c>ok:false</c>.
    /// </summary>
    internal async Task PostToUrlAsync(string what, Uri url, Func<HttpContent> content, CancellationToken cancellationToken)
    {
        var (status, body) = await SendAsync(what, null, () => new HttpRequestMessage(HttpMethod.Post, url) { Content = content() }, cancellationToken);
        if ((int)status is < 200 or > 299)
            throw Fail(what, $"http_{(int)status}", null);
        if (TryParse(body) is { } answer && answer.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False)
            throw Fail(what, SlackPayloads.String(answer, "error") ?? "unknown_error", null);
        _logger.LogDebug("Slack {Method}: ok", what);
    }

    private async Task<JsonElement> CallMethodAsync(string method, string? orderingKey, Func<HttpContent> content, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        var (status, body) = await SendAsync(method, orderingKey, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseUrl, method)) { Content = content() };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            return request;
        }, cancellationToken);
        if (TryParse(body) is not { } answer || !answer.TryGetProperty("ok", out var ok))
            throw Fail(method, (int)status is >= 200 and <= 299 ? "invalid_response" : $"http_{(int)status}", null);
        if (ok.ValueKind != JsonValueKind.True)
            throw Fail(method, SlackPayloads.String(answer, "error") ?? "unknown_error", SlackPayloads.String(answer, "needed"));
        if (answer.TryGetProperty("warning", out var warning))
            _logger.LogDebug("Slack {Method}: ok, warning {Warning}", method, warning.ToString());
        else
            _logger.LogDebug("Slack {Method}: ok", method);
        return answer;
    }

    private SlackApiException Fail(string method, string error, string? detail)
    {
        _logger.LogWarning("Slack {Method}: {Error}{Detail}", method, error, detail is null ? "" : $" (needed: {detail})");
        return new SlackApiException(method, error, detail is null ? null : "needed: " + detail);
    }

    /// <summary>The single send loop: 429 → wait Retry-After (+ jitter) and again; 5xx or no answer → back off, a few times.</summary>
    private async Task<(HttpStatusCode Status, string Body)> SendAsync(string what, string? orderingKey, Func<HttpRequestMessage> build,
        CancellationToken cancellationToken)
    {
        var gate = orderingKey is null ? null : _channelGates.GetOrAdd(orderingKey, _ => new SemaphoreSlim(1, 1));
        if (gate is not null)
            await gate.WaitAsync(cancellationToken);
        try
        {
            var rateLimited = 0;
            var transient = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                TimeSpan pause;
                try
                {
                    using var request = build();
                    using var response = await _http.SendAsync(request, cancellationToken);
                    var body = await response.Content.ReadAsStringAsync(cancellationToken);
                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        if (++rateLimited >= _retry.MaxRateLimitedTries)
                            throw Fail(what, "ratelimited", $"{rateLimited} answers of 429 in a row");
                        pause = RetryAfter(response) + Jitter();
                        _logger.LogWarning("Slack {Method}: rate limited; trying again in {Pause} (429 number {Count})", what, pause, rateLimited);
                    }
                    else if ((int)response.StatusCode >= 500)
                    {
                        if (++transient >= _retry.MaxTransientTries)
                            throw Fail(what, $"http_{(int)response.StatusCode}", $"{transient} tries");
                        pause = Backoff(transient);
                        _logger.LogWarning("Slack {Method}: HTTP {Status}; trying again in {Pause}", what, (int)response.StatusCode, pause);
                    }
                    else
                    {
                        return (response.StatusCode, body);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    // No answer (refused, reset, timed out): the request may or may not have arrived; Slack's own SDKs retry too.
                    if (++transient >= _retry.MaxTransientTries)
                        throw new SlackApiException(what, "unreachable", ex.Message);
                    pause = Backoff(transient);
                    _logger.LogWarning("Slack {Method}: no answer ({Reason}); trying again in {Pause}", what, ex.Message, pause);
                }
                await Task.Delay(pause, _time, cancellationToken);
            }
        }
        finally
        {
            gate?.Release();
        }
    }

    private TimeSpan RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is { } header)
        {
            if (header.Delta is { } delta && delta >= TimeSpan.Zero)
                return delta;
            if (header.Date is { } date)
                return date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return _retry.DefaultRetryAfter;
    }

    private TimeSpan Backoff(int failures)
    {
        var doubled = _retry.FirstBackoff.TotalMilliseconds * Math.Pow(2, failures - 1);
        return TimeSpan.FromMilliseconds(Math.Min(doubled, _retry.MaxBackoff.TotalMilliseconds)) + Jitter();
    }

    private TimeSpan Jitter() => TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * _retry.MaxJitter.TotalMilliseconds);

    private static string? OrderingKey(string? channel) => string.IsNullOrEmpty(channel) ? null : channel;

    private static JsonElement? TryParse(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
