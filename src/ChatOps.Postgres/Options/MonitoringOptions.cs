using Microsoft.Extensions.Options;

namespace ChatOps.Postgres.Options;

/// <summary><c>ChatOps:Monitoring</c>: how often the target is sampled.</summary>
public sealed class MonitoringOptions
{
    public const string Section = "ChatOps:Monitoring";

    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often while the migration's statements run (besides a sample at each statement's start and end):
    /// a short migration must not be judged on one sample. The shorter of this and <see cref="SampleInterval"/> applies.</summary>
    public TimeSpan MigrationSampleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An application session counts as blocked once it has waited this long for a lock — PostgreSQL's own
    /// <c>log_lock_waits</c> threshold (<c>deadlock_timeout</c>, 1 s) by default. Shorter waits are the lock queue's ordinary
    /// milliseconds, which sampling at each statement's start would otherwise count.</summary>
    public TimeSpan BlockedAfter { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>
{
    public ValidateOptionsResult Validate(string? name, MonitoringOptions options)
    {
        var failures = new List<string>();
        if (options.SampleInterval < TimeSpan.FromMilliseconds(100) || options.SampleInterval > TimeSpan.FromMinutes(5))
            failures.Add($"{MonitoringOptions.Section}:SampleInterval is {options.SampleInterval}; set it between 00:00:00.100 and 00:05:00 (default 00:00:05).");
        if (options.MigrationSampleInterval < TimeSpan.FromMilliseconds(100) || options.MigrationSampleInterval > TimeSpan.FromMinutes(5))
            failures.Add($"{MonitoringOptions.Section}:MigrationSampleInterval is {options.MigrationSampleInterval}; set it between 00:00:00.100 and 00:05:00 (default 00:00:01).");
        if (options.BlockedAfter < TimeSpan.Zero || options.BlockedAfter > TimeSpan.FromMinutes(1))
            failures.Add($"{MonitoringOptions.Section}:BlockedAfter is {options.BlockedAfter}; set it between 00:00:00 and 00:01:00 (default 00:00:01).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
