using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Rest;

/// <summary>
/// The one path every Discord REST call takes: the bot's <c>Authorization</c>, a <c>User-Agent</c> Discord accepts,
/// per-bucket and global rate limits, 429 → wait <c>retry_after</c> and send again, bounded retries on 5xx and network
/// failures, and 4xx mapped to <see cref="DiscordApiException"/>. Calls on the same route and resource go out one at a
/// time and in order, so a rate limit delays messages but never loses or reorders them.
/// </summary>
public sealed class DiscordRestClient
{
    /// <summary>The User-Agent Discord asks bots to send: <c>DiscordBot (url, version)</c>.</summary>
    public static readonly string UserAgent =
        $"DiscordBot (https://github.com/chatops/chatops, {typeof(DiscordRestClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0"})";

    private const int MaxFailureAttempts = 4;
    // A 429 is Discord saying "later", not "never": retried far more often than a failure, but not forever.
    private const int MaxRateLimitedAttempts = 50;

    private readonly HttpClient _http;
    private readonly DiscordOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _failureBackoff;
    private readonly RateLimits _limits;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _routeQueues = new();

    /// <param name="http">Used as is: no base address needed (routes are resolved against <see cref="DiscordOptions.ApiBase"/>).</param>
    /// <param name="failureBackoff">The first wait after a 5xx or network failure (doubled each time, with jitter); 500 ms by default.</param>
    public DiscordRestClient(HttpClient http, DiscordOptions options, TimeProvider time, ILogger<DiscordRestClient> logger, TimeSpan? failureBackoff = null)
    {
        if (!options.Enabled)
            throw new InvalidOperationException("Discord:BotToken is not set: the Discord REST client needs the bot's token.");
        _http = http;
        _options = options;
        _time = time;
        _logger = logger;
        _failureBackoff = failureBackoff ?? TimeSpan.FromMilliseconds(500);
        _limits = new RateLimits(time);
    }

    /// <summary>Sends <paramref name="request"/> and returns Discord's JSON answer (<c>default</c> for an empty one, e.g. 204).</summary>
    /// <exception cref="DiscordApiException">Discord refused it (4xx), or kept failing (5xx) after the retries.</exception>
    /// <exception cref="HttpRequestException">The network kept failing after the retries.</exception>
    public async Task<JsonElement> SendAsync(DiscordRequest request, CancellationToken cancellationToken)
    {
        var routeKey = $"{request.Method} {request.Route}";
        var queue = _routeQueues.GetOrAdd(routeKey + "@" + request.MajorParameter, _ => new SemaphoreSlim(1, 1));
        // One at a time per route and resource: SemaphoreSlim releases async waiters in arrival order, so order is kept.
        await queue.WaitAsync(cancellationToken);
        try
        {
            return await SendInOrderAsync(request, routeKey, cancellationToken);
        }
        finally
        {
            queue.Release();
        }
    }

    private async Task<JsonElement> SendInOrderAsync(DiscordRequest request, string routeKey, CancellationToken cancellationToken)
    {
        var failures = 0;
        var rateLimited = 0;
        while (true)
        {
            TimeSpan wait;
            while ((wait = _limits.Reserve(routeKey, request.MajorParameter)) > TimeSpan.Zero)
                await Task.Delay(wait, _time, cancellationToken);

            HttpResponseMessage response;
            try
            {
                using var message = Build(request);
                response = await _http.SendAsync(message, cancellationToken);
            }
            catch (HttpRequestException e) when (++failures < MaxFailureAttempts)
            {
                _logger.LogWarning("Discord {Route} failed ({Error}); attempt {Attempt} of {Max}", routeKey, e.Message, failures, MaxFailureAttempts);
                await Task.Delay(Backoff(failures), _time, cancellationToken);
                continue;
            }

            using (response)
            {
                _limits.Observe(routeKey, request.MajorParameter, response.Headers);
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                var status = (int)response.StatusCode;
                _logger.LogDebug("Discord {Route} → {Status}", routeKey, status);

                if (response.IsSuccessStatusCode)
                    return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();

                if (response.StatusCode == HttpStatusCode.TooManyRequests && ++rateLimited < MaxRateLimitedAttempts)
                {
                    var (retryAfter, global) = ReadRateLimit(response, body);
                    _logger.LogWarning("Discord {Route} rate-limited{Scope}: retrying in {RetryAfter}", routeKey, global ? " (global)" : "", retryAfter);
                    _limits.Limited(routeKey, request.MajorParameter, retryAfter, global);
                    continue;
                }

                if (status >= 500 && ++failures < MaxFailureAttempts)
                {
                    _logger.LogWarning("Discord {Route} → {Status}; attempt {Attempt} of {Max}", routeKey, status, failures, MaxFailureAttempts);
                    await Task.Delay(Backoff(failures), _time, cancellationToken);
                    continue;
                }

                var (code, text) = ReadError(body, response.ReasonPhrase);
                _logger.LogWarning("Discord {Route} → {Status} code {Code}: {Message}", routeKey, status, code, text);
                throw new DiscordApiException(status, code, text, routeKey);
            }
        }
    }

    private HttpRequestMessage Build(DiscordRequest request)
    {
        var message = new HttpRequestMessage(request.Method, new Uri(_options.ApiBase, request.Path));
        message.Headers.Authorization = new AuthenticationHeaderValue("Bot", _options.BotToken);
        message.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        if (request.Content is { } content)
            message.Content = content();
        return message;
    }

    private TimeSpan Backoff(int failures) =>
        _failureBackoff * Math.Pow(2, failures - 1) * (0.75 + Random.Shared.NextDouble() / 2);

    private static (TimeSpan RetryAfter, bool Global) ReadRateLimit(HttpResponseMessage response, string body)
    {
        double? seconds = null;
        var global = response.Headers.TryGetValues("X-RateLimit-Global", out var g) && g.Any(v => v.Equals("true", StringComparison.OrdinalIgnoreCase));
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.TryGetProperty("retry_after", out var r) && r.TryGetDouble(out var s))
                seconds = s;
            if (json.RootElement.TryGetProperty("global", out var gl) && gl.ValueKind == JsonValueKind.True)
                global = true;
        }
        catch (JsonException)
        {
            // Cloudflare's own 429 is HTML: fall back to the header.
        }
        if (seconds is null && response.Headers.RetryAfter?.Delta is { } delta)
            seconds = delta.TotalSeconds;
        if (seconds is null && response.Headers.TryGetValues("Retry-After", out var ra) &&
            double.TryParse(ra.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var h))
            seconds = h;
        return (TimeSpan.FromSeconds(Math.Clamp(seconds ?? 1, 0, 3600)), global);
    }

    private static (int? Code, string Message) ReadError(string body, string? reason)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            int? code = root.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? n : null;
            var text = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : reason ?? "";
            if (root.TryGetProperty("errors", out var errors))
                text += " " + errors.GetRawText();
            return (code, text);
        }
        catch (JsonException)
        {
            return (null, reason ?? "no error body");
        }
    }
}
