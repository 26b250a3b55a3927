using System.Text.Json;
using ChatOps.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Interactions;

/// <summary>A command as Discord holds it after registration.</summary>
public sealed record RegisteredCommand(string Id, string Name, IReadOnlyList<string> SubCommands);

/// <summary>
/// Registers <c>/migrate</c> for <see cref="DiscordOptions.GuildId"/> by bulk overwrite
/// (<c>PUT /applications/{app}/guilds/{guild}/commands</c>): the guild ends up with exactly this command, whatever it
/// had before, and running it again changes nothing. Guild commands apply at once (global ones take up to an hour).
/// </summary>
public sealed class DiscordCommandRegistration(DiscordRestClient rest, DiscordOptions options, ILogger<DiscordCommandRegistration> logger)
{
    /// <summary>Overwrites the guild's commands with <c>/migrate</c>; returns what Discord now holds.</summary>
    public async Task<IReadOnlyList<RegisteredCommand>> RegisterAsync(CancellationToken cancellationToken)
    {
        var answer = await rest.SendAsync(DiscordRequest.Json(HttpMethod.Put, "applications/{application}/guilds/{guild}/commands",
            $"applications/{options.ApplicationId}/guilds/{options.GuildId}/commands", MigrateCommandDefinition.RegistrationBody(), options.GuildId ?? ""),
            cancellationToken);
        var registered = answer.ValueKind == JsonValueKind.Array
            ? answer.EnumerateArray().Select(c => new RegisteredCommand(
                c.TryGetProperty("id", out var id) ? id.GetString() ?? "" : "",
                c.GetProperty("name").GetString() ?? "",
                c.TryGetProperty("options", out var o) && o.ValueKind == JsonValueKind.Array
                    ? [.. o.EnumerateArray().Select(s => s.GetProperty("name").GetString() ?? "")]
                    : [])).ToList()
            : [];
        foreach (var command in registered)
            logger.LogInformation("Discord command /{Name} registered in guild {GuildId}: {SubCommands}", command.Name, options.GuildId, string.Join(", ", command.SubCommands));
        return registered;
    }
}
