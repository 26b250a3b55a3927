using Microsoft.Extensions.Options;

namespace ChatOps.Postgres.Options;

/// <summary><c>ChatOps:Monitoring</c>: how often the target is sampled.</summary>
public sealed class MonitoringOptions
{
    public const string Section = "ChatOps:Monitoring";

    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>
{
    public ValidateOptionsResult Validate(string? name, MonitoringOptions options) =>
        options.SampleInterval < TimeSpan.FromMilliseconds(100) || options.SampleInterval > TimeSpan.FromMinutes(5)
            ? ValidateOptionsResult.Fail($"{MonitoringOptions.Section}:SampleInterval is {options.SampleInterval}; set it between 00:00:00.100 and 00:05:00 (default 00:00:05).")
            : ValidateOptionsResult.Success;
}
