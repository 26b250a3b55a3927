using System.CommandLine;
using ChatOps.Bot.Hosting;
using ChatOps.Discord;
using ChatOps.Discord.Interactions;
using ChatOps.Discord.Rest;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatOps.Bot.Cli;

/// <summary>
/// <c>chatops register-discord-commands</c>: registers <c>/migrate</c> with its sub-commands and options for <c>Discord:GuildId</c>
/// (a bulk overwrite: running it again changes nothing).
/// </summary>
public static class RegisterDiscordCommandsVerb
{
    public static Command Create()
    {
        var command = new Command("register-discord-commands",
            "Register the /migrate slash command (its sub-commands and options) in the Discord server Discord:GuildId, for the application " +
            "Discord:ApplicationId, with Discord:BotToken (the three settings it needs). Idempotent: it overwrites the guild's commands with the same definition.");
        command.SetAction((_, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            var builder = BotHost.CreateBuilder();
            // Registering needs the token, the application and the guild only: the channel and public key are serve's to require.
            builder.Services.Replace(ServiceDescriptor.Singleton<IValidateOptions<DiscordOptions>>(new DiscordOptionsValidator { ForCommandRegistration = true }));
            using var host = builder.BuildValidated();
            var options = host.Services.GetRequiredService<IOptions<DiscordOptions>>().Value;
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var logging = host.Services.GetRequiredService<ILoggerFactory>();
            var rest = new DiscordRestClient(http, options, TimeProvider.System, logging.CreateLogger<DiscordRestClient>());
            var registered = await new DiscordCommandRegistration(rest, options, logging.CreateLogger<DiscordCommandRegistration>()).RegisterAsync(cancellationToken);
            foreach (var c in registered)
                Console.WriteLine($"registered /{c.Name} ({c.Id}) in guild {options.GuildId}: {string.Join(", ", c.SubCommands)}");
            return ExitCodes.Done;
        }));
        return command;
    }
}
