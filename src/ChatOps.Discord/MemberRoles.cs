using System.Collections.Concurrent;
using System.Text.Json;
using ChatOps.Discord.Rest;

namespace ChatOps.Discord;

/// <summary>
/// The Discord roles of the guild's members, cached briefly: <c>GET /guilds/{guild}/members/{user}</c> when unknown or
/// stale, primed for free by the Gateway's reaction events (which carry <c>member.roles</c>).
/// </summary>
public sealed class MemberRoles(DiscordRestClient rest, DiscordOptions options, TimeProvider time, TimeSpan? freshFor = null)
{
    private sealed record Entry(IReadOnlySet<string> Roles, DateTimeOffset At);

    private readonly ConcurrentDictionary<string, Entry> _cache = new();
    private readonly TimeSpan _freshFor = freshFor ?? TimeSpan.FromMinutes(1);

    /// <summary>Records what an event said about <paramref name="userId"/>'s roles.</summary>
    public void Prime(string userId, IEnumerable<string> roles) =>
        _cache[userId] = new Entry(roles.ToHashSet(StringComparer.Ordinal), time.GetUtcNow());

    /// <summary>The user's role ids; empty for someone who is not a member of the guild.</summary>
    public async Task<IReadOnlySet<string>> OfAsync(string userId, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(userId, out var entry) && time.GetUtcNow() - entry.At < _freshFor)
            return entry.Roles;
        IReadOnlySet<string> roles;
        try
        {
            var member = await rest.SendAsync(new DiscordRequest(HttpMethod.Get, "guilds/{guild}/members/{user}",
                $"guilds/{options.GuildId}/members/{userId}", options.GuildId ?? ""), cancellationToken);
            roles = member.TryGetProperty("roles", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(r => r.GetString() ?? "").Where(r => r.Length > 0).ToHashSet(StringComparer.Ordinal)
                : new HashSet<string>();
        }
        catch (DiscordApiException e) when (e.Code == DiscordErrorCodes.UnknownMember)
        {
            roles = new HashSet<string>();
        }
        _cache[userId] = new Entry(roles, time.GetUtcNow());
        return roles;
    }
}
