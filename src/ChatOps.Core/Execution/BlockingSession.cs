namespace ChatOps.Core.Execution;

/// <summary>A session holding a lock the migration needs. Its query has literals replaced by <c>?</c>: it is posted in chat.</summary>
public sealed record BlockingSession(int Pid, string ApplicationName, string State, TimeSpan? TransactionAge, string Query, string Mode, string Table)
{
    /// <summary>"pid 4711 (billing-worker, idle in transaction, transaction open 6m12s, RowExclusiveLock on public.contacts): UPDATE … = ?"</summary>
    public string Describe()
    {
        var app = string.IsNullOrEmpty(ApplicationName) ? "no application_name" : $"\"{ApplicationName}\"";
        var age = TransactionAge is { } t ? $", transaction open {Durations.Short(t)}" : "";
        return $"pid {Pid} ({app}, {State}{age}, {Mode} on {Table}): {Query}";
    }
}

/// <summary>Durations the way people read them in chat: 850 ms, 12.4 s, 6m12s, 2h05m.</summary>
public static class Durations
{
    public static string Short(TimeSpan t) => t.TotalSeconds switch
    {
        < 1 => $"{t.TotalMilliseconds:0} ms",
        < 60 => $"{t.TotalSeconds:0.0} s",
        < 3600 => $"{(int)t.TotalMinutes}m{t.Seconds:00}s",
        _ => $"{(int)t.TotalHours}h{t.Minutes:00}m",
    };
}
