using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;

namespace ChatOps.Discord.Rest;

/// <summary>
/// What Discord has said about its limits: per bucket (<c>X-RateLimit-Bucket</c>, <c>-Remaining</c>, <c>-Reset-After</c>,
/// learned per route and top-level resource) and globally (a 429 with <c>global: true</c>). Limits are never hard-coded:
/// until Discord has named a route's bucket, the route is free.
/// </summary>
internal sealed class RateLimits(TimeProvider time)
{
    private sealed class Bucket
    {
        public int Remaining = 1;
        public DateTimeOffset ResetAt = DateTimeOffset.MinValue;
    }

    private readonly ConcurrentDictionary<string, string> _bucketOfRoute = new();
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new();
    private readonly Lock _globalLock = new();
    private DateTimeOffset _globalUntil = DateTimeOffset.MinValue;

    /// <summary>How long to wait before sending on <paramref name="routeKey"/>; zero when it may go now (and counts it).</summary>
    public TimeSpan Reserve(string routeKey, string majorParameter)
    {
        var now = time.GetUtcNow();
        TimeSpan wait;
        lock (_globalLock)
            wait = _globalUntil > now ? _globalUntil - now : TimeSpan.Zero;
        if (wait > TimeSpan.Zero)
            return wait;

        if (!_bucketOfRoute.TryGetValue(routeKey, out var hash) || !_buckets.TryGetValue(hash + ":" + majorParameter, out var bucket))
            return TimeSpan.Zero;
        lock (bucket)
        {
            if (bucket.ResetAt <= now)
                return TimeSpan.Zero;
            if (bucket.Remaining > 0)
            {
                bucket.Remaining--;
                return TimeSpan.Zero;
            }
            return bucket.ResetAt - now;
        }
    }

    /// <summary>Learns the route's bucket and its state from a response's headers.</summary>
    public void Observe(string routeKey, string majorParameter, HttpResponseHeaders headers)
    {
        if (!TryHeader(headers, "X-RateLimit-Bucket", out var hash))
            return;
        _bucketOfRoute[routeKey] = hash;
        var bucket = _buckets.GetOrAdd(hash + ":" + majorParameter, _ => new Bucket());
        if (!TryHeader(headers, "X-RateLimit-Remaining", out var remainingText) ||
            !int.TryParse(remainingText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var remaining) ||
            !TryHeader(headers, "X-RateLimit-Reset-After", out var resetText) ||
            !double.TryParse(resetText, NumberStyles.Float, CultureInfo.InvariantCulture, out var resetAfter))
            return;
        lock (bucket)
        {
            bucket.Remaining = remaining;
            bucket.ResetAt = time.GetUtcNow() + TimeSpan.FromSeconds(resetAfter);
        }
    }

    /// <summary>A 429: the bucket (or, when <paramref name="global"/>, every route) waits <paramref name="retryAfter"/>.</summary>
    public void Limited(string routeKey, string majorParameter, TimeSpan retryAfter, bool global)
    {
        var until = time.GetUtcNow() + retryAfter;
        if (global)
        {
            lock (_globalLock)
                if (until > _globalUntil)
                    _globalUntil = until;
            return;
        }
        var hash = _bucketOfRoute.GetOrAdd(routeKey, routeKey);
        var bucket = _buckets.GetOrAdd(hash + ":" + majorParameter, _ => new Bucket());
        lock (bucket)
        {
            bucket.Remaining = 0;
            if (until > bucket.ResetAt)
                bucket.ResetAt = until;
        }
    }

    private static bool TryHeader(HttpResponseHeaders headers, string name, out string value)
    {
        value = headers.TryGetValues(name, out var values) ? values.FirstOrDefault() ?? "" : "";
        return value.Length > 0;
    }
}
