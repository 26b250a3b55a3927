using System.Text.Json;
using ChatOps.Core.Conversation;
using ChatOps.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Gateway;

/// <summary>
/// Reads who has reacted ✅ on each open card (<c>GET /channels/{c}/messages/{m}/reactions/{emoji}</c>, 100 a page,
/// paged with <c>after</c>) and hands each, but the bot, to the inbox as a <see cref="ReactionAdded"/> with an id unique
/// to the session (<c>reconcile:{session}:{message}:{user}:{emoji}</c>): the core counts a sign-off once however often
/// it hears of it.
/// </summary>
internal sealed class ReactionReconciler(DiscordRestClient rest, IChatInbox inbox, ILogger logger)
{
    private const int PageSize = 100;

    public async Task ReconcileAsync(IEnumerable<MessageReference> openCards, string session, string? botUserId, CancellationToken cancellationToken)
    {
        var emoji = ReactionEmoji.SignOff.Character()!;
        var encoded = Uri.EscapeDataString(emoji);
        foreach (var card in openCards)
        {
            string? after = null;
            var count = 0;
            try
            {
                while (true)
                {
                    var path = $"channels/{card.ChannelId}/messages/{card.MessageId}/reactions/{encoded}?limit={PageSize}" + (after is null ? "" : $"&after={after}");
                    var page = await rest.SendAsync(new DiscordRequest(HttpMethod.Get, "channels/{channel}/messages/{message}/reactions/{emoji}", path, card.ChannelId), cancellationToken);
                    var users = page.ValueKind == JsonValueKind.Array ? page.EnumerateArray().Select(u => u.GetProperty("id").GetString()!).ToList() : [];
                    foreach (var user in users.Where(u => u != botUserId))
                    {
                        await inbox.AcceptAsync(new ReactionAdded(user, card, ReactionEmoji.SignOff, emoji, $"reconcile:{session}:{card.MessageId}:{user}:{emoji}"), cancellationToken);
                        count++;
                    }
                    if (users.Count < PageSize)
                        break;
                    after = users[^1];
                }
                logger.LogInformation("Discord reconciliation: {Count} sign-off reactions on message {MessageId}", count, card.MessageId);
            }
            catch (DiscordApiException e) when (e.Code is DiscordErrorCodes.UnknownMessage or DiscordErrorCodes.UnknownChannel)
            {
                logger.LogWarning("Discord reconciliation: card {MessageId} in {ChannelId} is gone ({Code})", card.MessageId, card.ChannelId, e.Code);
            }
        }
    }
}
