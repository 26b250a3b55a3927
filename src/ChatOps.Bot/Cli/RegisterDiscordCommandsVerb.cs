using System.CommandLine;
using ChatOps.Bot.Hosting;
using ChatOps.Discord;
using ChatOps.Discord.Interactions;
using ChatOps.Discord.Rest;
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
            "Discord:ApplicationId, with Discord:BotToken. Idempotent: it overwrites the guild's commands with the same definition.");
        command.SetAction((_, cancellationToken) => ChatOpsCommandLine.GuardAsync(async () =>
        {
            using var host = BotHost.CreateBuilder().BuildValidated();
            var options = host.Services.GetRequiredService<IOptions<DiscordOptions>>().Value;
            if (!options.Enabled || string.IsNullOrWhiteSpace(options.ApplicationId) || string.IsNullOrWhiteSpace(options.GuildId))
                throw new OptionsValidationException(DiscordOptions.Section, typeof(DiscordOptions),
                    ["register-discord-commands needs Discord:BotToken, Discord:ApplicationId and Discord:GuildId (env Discord__BotToken, …)"]);
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
