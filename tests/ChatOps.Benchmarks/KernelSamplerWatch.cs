using System.Globalization;

namespace ChatOps.Benchmarks;

/// <summary>
/// Watches the kernel's DAMON thread (<c>kdamond</c>), when the machine runs one, and records when it wakes:
/// each of its physical-memory samples can stall processes that share much memory — PostgreSQL's backends —
/// for tens of milliseconds. Checking whether the slowest application transactions started just after these
/// wake-ups tells a stall of the machine from a stall caused by a contender. Polls <c>/proc/PID/schedstat</c> (the
/// thread's CPU time, in ns) every 2 ms; a wake-up is a rise after at least 50 ms of quiet.
/// </summary>
public sealed class KernelSamplerWatch : IAsyncDisposable
{
    private const string Root = "/sys/kernel/mm/damon/admin/kdamonds/0";
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(50);

    /// <summary>How long after a wake-up a transaction counts as starting in its stall.</summary>
    public static readonly TimeSpan StallReach = TimeSpan.FromMilliseconds(50);

    private readonly string _schedstat;
    private readonly List<double> _wakeUps = [];
    private readonly Poller _poller;
    private long? _previous;
    private double _lastActive = double.MinValue;

    private KernelSamplerWatch(string schedstat)
    {
        _schedstat = schedstat;
        _poller = new Poller(PollAsync, TimeSpan.FromMilliseconds(2));
    }

    /// <summary>The kernel sampler as the report should name it, or null when none runs.</summary>
    public static string? Describe()
    {
        if (Read("state") != "on" || !long.TryParse(Read("contexts/0/monitoring_attrs/intervals/sample_us"), CultureInfo.InvariantCulture, out var us))
            return null;
        var action = Read("contexts/0/schemes/0/action");
        return $"DAMON is on ({Read("contexts/0/operations") ?? "?"} sampling every {us / 1000} ms{(action is null ? "" : $", scheme {action}")})";
    }

    /// <summary>Starts watching; null when the machine runs no DAMON thread or its statistics cannot be read.</summary>
    public static KernelSamplerWatch? TryStart()
    {
        if (Describe() is null || Read("pid") is not { } pid || !File.Exists($"/proc/{pid}/schedstat"))
            return null;
        return new KernelSamplerWatch($"/proc/{pid}/schedstat");
    }

    /// <summary>Wall-clock times (Unix seconds) the sampler woke up.</summary>
    public IReadOnlyList<double> WakeUps
    {
        get { lock (_wakeUps) return _wakeUps.ToList(); }
    }

    /// <summary>
    /// Of the transactions starting in the watched span whose latency is at least <paramref name="slowMs"/>, the
    /// share that started within <see cref="StallReach"/> after a wake-up, next to the share of all transactions
    /// that did (what chance gives: the time so near a wake-up).
    /// </summary>
    public (double Slow, double Chance, int Count)? Coincidence(IReadOnlyList<AppTransaction> transactions, double from, double to, double slowMs)
    {
        var wakeUps = WakeUps.Where(w => w >= from && w <= to).ToArray();
        if (wakeUps.Length < 2)
            return null;
        var watched = transactions.Where(t => t.StartSeconds >= wakeUps[0] && t.StartSeconds <= wakeUps[^1]).ToList();
        var slow = watched.Where(t => t.LatencyMs >= slowMs).ToList();
        if (slow.Count == 0)
            return null;
        bool SoonAfter(AppTransaction t)
        {
            var i = Array.BinarySearch(wakeUps, t.StartSeconds);
            if (i < 0) i = ~i - 1;
            return i >= 0 && t.StartSeconds - wakeUps[i] <= StallReach.TotalSeconds;
        }
        return ((double)slow.Count(SoonAfter) / slow.Count, (double)watched.Count(SoonAfter) / watched.Count, slow.Count);
    }

    private async Task PollAsync()
    {
        var now = Clock.Now;
        if (!long.TryParse((await File.ReadAllTextAsync(_schedstat)).Split(' ')[0], CultureInfo.InvariantCulture, out var ns))
            return;
        if (_previous is { } p && ns > p)
        {
            if (now - _lastActive > Quiet.TotalSeconds)
                lock (_wakeUps) _wakeUps.Add(now);
            _lastActive = now;
        }
        _previous = ns;
    }

    private static string? Read(string path)
    {
        var file = Path.Combine(Root, path);
        try
        {
            return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public ValueTask DisposeAsync() => _poller.DisposeAsync();
}
