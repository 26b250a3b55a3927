namespace ChatOps.Benchmarks;

/// <summary>Polls until something holds, failing with <c>serve</c>'s last lines when it does not in time.</summary>
public static class Until
{
    /// <summary>Until <paramref name="find"/> finds it (two minutes at most).</summary>
    public static async Task<T> FoundAsync<T>(Func<T?> find, string what, ServeProcess serve, TimeProvider time, CancellationToken cancellationToken)
        where T : class
    {
        T? found = null;
        await TrueAsync(_ => Task.FromResult((found = find()) is not null), what, TimeSpan.FromMinutes(2), serve, time, cancellationToken);
        return found!;
    }

    /// <summary>Until <paramref name="done"/> says so, looking every 100 ms.</summary>
    public static async Task TrueAsync(Func<CancellationToken, Task<bool>> done, string what, TimeSpan timeout, ServeProcess serve, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (!await done(cancellationToken))
        {
            if (time.GetElapsedTime(started) > timeout)
                throw new TimeoutException($"waited {timeout.TotalMinutes:0} min for {what}; serve's last lines:\n{serve.Tail}");
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }
}
