using ChatOps.Postgres;
using ChatOps.Postgres.Options;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace ChatOps.Bot.Hosting;

/// <summary>Builds the host every verb runs in: configuration, validated options, Serilog.</summary>
public static class BotHost
{
    /// <summary>
    /// appsettings.json from the product root, then environment variables (<c>ChatOps__Execution__LockTimeout=…</c>,
    /// <c>ConnectionStrings__Target=…</c>), then <paramref name="overrides"/> from the command line.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = ProductFiles.Root });
        builder.Configuration
            .AddJsonFile(Path.Combine(ProductFiles.Root, "appsettings.json"), optional: false, reloadOnChange: false)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(overrides ?? new Dictionary<string, string?>());

        builder.AddChatOpsOptions();
        builder.AddChatOpsLogging();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddTransient<Cli.MigrationRun>();
        return builder;
    }

    /// <summary>Binds and validates every options section; a bad value stops start-up with all problems listed.</summary>
    public static void AddChatOpsOptions(this HostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ExecutionOptions>().BindConfiguration(ExecutionOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<MigrationsOptions>().BindConfiguration(MigrationsOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<MonitoringOptions>().BindConfiguration(MonitoringOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ExecutionOptions>, ExecutionOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<MigrationsOptions>, MigrationsOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidator>();
    }

    /// <summary>Serilog to standard error (standard output is the verb's own output), compact JSON when
    /// <c>ChatOps:Logging:Json=true</c>; levels from the <c>Serilog</c> section.</summary>
    public static void AddChatOpsLogging(this HostApplicationBuilder builder)
    {
        var json = builder.Configuration.GetValue<bool>("ChatOps:Logging:Json");
        builder.Services.AddSerilog(logger =>
        {
            logger.ReadFrom.Configuration(builder.Configuration);
            if (json)
                logger.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: LogEventLevel.Verbose);
            else
                logger.WriteTo.Console(standardErrorFromLevel: LogEventLevel.Verbose,
                    outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}");
        });
    }

    /// <summary>Builds the host and validates every options section now, so a bad setting fails before any
    /// work starts — with every problem of every section in one exception, not just the first.</summary>
    public static IHost BuildValidated(this HostApplicationBuilder builder)
    {
        var host = builder.Build();
        var failures = new List<string>();
        void Check<T>() where T : class
        {
            try
            {
                _ = host.Services.GetRequiredService<IOptions<T>>().Value;
            }
            catch (OptionsValidationException ex)
            {
                failures.AddRange(ex.Failures);
            }
        }
        Check<ExecutionOptions>();
        Check<MigrationsOptions>();
        Check<MonitoringOptions>();
        if (failures.Count > 0)
        {
            host.Dispose();
            throw new OptionsValidationException("ChatOps", typeof(BotHost), failures);
        }
        return host;
    }
}
