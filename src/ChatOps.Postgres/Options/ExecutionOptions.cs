using Microsoft.Extensions.Options;

namespace ChatOps.Postgres.Options;

/// <summary><c>ChatOps:Execution</c>: how the executor takes locks on the target.</summary>
public sealed class ExecutionOptions
{
    public const string Section = "ChatOps:Execution";

    /// <summary><c>lock_timeout</c> for every statement except CONCURRENTLY ones and VACUUM.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long one statement may keep retrying after lock timeouts before the run fails.</summary>
    public TimeSpan LockRetryBudget { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary><c>statement_timeout</c> for every statement.</summary>
    public TimeSpan StatementTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// <c>max_parallel_maintenance_workers</c> for the run's session, which bounds how many cores an index build
    /// takes from the application (0: the build runs in the session's own process only). Null leaves the
    /// server's setting.
    /// </summary>
    public int? IndexBuildWorkers { get; set; }

    /// <summary>A transaction (with a snapshot) open this long before the run gets a pre-deployment warning: every
    /// CONCURRENTLY statement waits for it to end.</summary>
    public TimeSpan OldSnapshotWarning { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Collects every problem with <see cref="ExecutionOptions"/>, each with how to fix it.</summary>
public sealed class ExecutionOptionsValidator : IValidateOptions<ExecutionOptions>
{
    public ValidateOptionsResult Validate(string? name, ExecutionOptions options)
    {
        var failures = new List<string>();
        if (options.LockTimeout <= TimeSpan.Zero || options.LockTimeout > TimeSpan.FromMinutes(1))
            failures.Add($"{ExecutionOptions.Section}:LockTimeout is {options.LockTimeout}; set it between 00:00:00.001 and 00:01:00 (default 00:00:00.200).");
        if (options.LockRetryBudget < options.LockTimeout)
            failures.Add($"{ExecutionOptions.Section}:LockRetryBudget is {options.LockRetryBudget}; it must be at least LockTimeout ({options.LockTimeout}) (default 00:10:00).");
        if (options.StatementTimeout <= TimeSpan.Zero)
            failures.Add($"{ExecutionOptions.Section}:StatementTimeout is {options.StatementTimeout}; set a positive duration such as 01:00:00.");
        if (options.IndexBuildWorkers is < 0 or > 1024)
            failures.Add($"{ExecutionOptions.Section}:IndexBuildWorkers is {options.IndexBuildWorkers}; set 0 (builds use one core), a worker count up to 1024, or leave it out to keep the server's max_parallel_maintenance_workers.");
        if (options.OldSnapshotWarning <= TimeSpan.Zero)
            failures.Add($"{ExecutionOptions.Section}:OldSnapshotWarning is {options.OldSnapshotWarning}; set a positive duration (default 00:01:00).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
