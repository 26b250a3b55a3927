using System.Diagnostics;

namespace ChatOps.Testing;

/// <summary>
/// Bounded waits for the event a test needs. Tests share two cores with other test processes, so a test
/// waits for the state it needs rather than a fixed time, and fails naming it rather than going on without it.
/// </summary>
public static class Poll
{
    /// <summary>Generous: long enough for a loaded machine, short enough to fail a hung test.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>Polls <paramref name="condition"/> until it holds, or throws naming <paramref name="what"/>
    /// (with <paramref name="lastSeen"/>, when given, to tell what the state was instead).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<Task<string>>? lastSeen = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
                throw new TimeoutException($"waited {limit.TotalSeconds:0} s for {what}" +
                                           (lastSeen is null ? "" : $"; last seen: {await lastSeen()}"));
            await Task.Delay(Interval);
        }
    }

    /// <summary>Awaits <paramref name="task"/>, or throws naming <paramref name="what"/> when it is still running after the timeout.</summary>
    public static async Task WithinAsync(Task task, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new TimeoutException($"{what}: not done after {limit.TotalSeconds:0} s");
        }
    }

    /// <inheritdoc cref="WithinAsync(Task, string, TimeSpan?)"/>
    public static async Task<T> WithinAsync<T>(Task<T> task, string what, TimeSpan? timeout = null)
    {
        await WithinAsync((Task)task, what, timeout);
        return await task;
    }

    /// <summary>Waits (bounded) for <paramref name="task"/> to end, however it ends: clean-up before disposing
    /// a connection that a command may still be reading from, so that a failure is not hidden by the disposal's.</summary>
    public static Task EndedAsync(Task task, TimeSpan? timeout = null) => Task.WhenAny(task, Task.Delay(timeout ?? DefaultTimeout));
}
