using ChatOps.Discord;
using ChatOps.Postgres;
using ChatOps.Postgres.Options;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;
using ChatOps.Slack;

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
    public static void AddChatOpsOptions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ExecutionOptions>().BindConfiguration(ExecutionOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<MigrationsOptions>().BindConfiguration(MigrationsOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<MonitoringOptions>().BindConfiguration(MonitoringOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ExecutionOptions>, ExecutionOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<MigrationsOptions>, MigrationsOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidator>();
        // The platforms: each is enabled by its bot token, and a partial configuration stops start-up naming the missing keys.
        builder.Services.AddOptions<SlackOptions>().BindConfiguration(SlackOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<DiscordOptions>().BindConfiguration(DiscordOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<SlackOptions>, SlackOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<DiscordOptions>, DiscordOptionsValidator>();
    }

    /// <summary>Serilog to standard error (standard output is the verb's own output), compact JSON when
    /// <c>ChatOps:Logging:Json=true</c>; levels from the <c>Serilog</c> section.</summary>
    public static void AddChatOpsLogging(this IHostApplicationBuilder builder)
    {
        // Not GetValue<bool>: a value that is no boolean would throw here, before BuildValidated lists every problem.
        _ = bool.TryParse(builder.Configuration[LoggingJson], out var json);
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

    private const string LoggingJson = "ChatOps:Logging:Json";

    /// <summary>Builds the host and validates every options section now, so a bad setting fails before any
    /// work starts — with every problem of every section in one exception (values that do not parse as well as
    /// values out of range), not just the first.</summary>
    public static IHost BuildValidated(this HostApplicationBuilder builder)
    {
        var host = builder.Build();
        var failures = Problems(host.Services);
        if (failures.Count > 0)
        {
            host.Dispose();
            throw new OptionsValidationException("ChatOps", typeof(BotHost), failures);
        }
        return host;
    }

    /// <summary>Every problem of every options section (values that do not parse as well as values out of range).</summary>
    public static IReadOnlyList<string> Problems(IServiceProvider services)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        var failures = new List<string>();
        void Check<T>(string section) where T : class, new()
        {
            // The binder stops at the first value it cannot convert; each setting is tried on its own first.
            var unparsed = OptionsBinding.Problems<T>(configuration, section, out var bound);
            if (unparsed.Count > 0)
            {
                // The values that did parse are still judged: one round of fixes, not one per problem.
                failures.AddRange(unparsed);
                foreach (var validator in services.GetServices<IValidateOptions<T>>())
                    if (validator.Validate(Options.DefaultName, bound) is { Failed: true } result)
                        failures.AddRange(result.Failures ?? []);
                return;
            }
            try
            {
                _ = services.GetRequiredService<IOptions<T>>().Value;
            }
            catch (OptionsValidationException ex)
            {
                failures.AddRange(ex.Failures);
            }
            catch (InvalidOperationException ex)
            {
                failures.Add(ex.Message);
            }
        }
        Check<ExecutionOptions>(ExecutionOptions.Section);
        Check<MigrationsOptions>(MigrationsOptions.Section);
        Check<MonitoringOptions>(MonitoringOptions.Section);
        Check<SlackOptions>(SlackOptions.Section);
        Check<DiscordOptions>(DiscordOptions.Section);
        if (configuration[LoggingJson] is { Length: > 0 } json && !bool.TryParse(json, out _))
            failures.Add($"{LoggingJson} is '{json}', not true or false (default false).");
        return failures;
    }
}
