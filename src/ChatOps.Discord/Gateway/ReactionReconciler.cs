using System.Text.Json;
using ChatOps.Core.Conversation;
using ChatOps.Discord.Rest;
using Microsoft.Extensions.Logging;

namespace ChatOps.Discord.Gateway;

/// <summary>
/// Reads who has reacted ✅ on each open card (<c>GET /channels/{c}/messages/{m}/reactions/{emoji}</c>, 100 a page,
/// paged with <c>after</c>) and hands the whole listing, but the bot, to the inbox as one <see cref="SignOffReactionsListed"/> per card
/// with an id unique to the session and card (<c>reconcile:{session}:{message}:{emoji}</c>): the core signs who reacted meanwhile and
/// revokes a reaction's sign-off whose ✅ is gone — which only the whole listing can say. Each listing says when it was read, so one
/// handled after a live ✅ (or removal) that came after it does not undo that.
/// </summary>
internal sealed class ReactionReconciler(DiscordRestClient rest, IChatInbox inbox, TimeProvider time, ILogger logger)
{
    private const int PageSize = 100;

    public async Task ReconcileAsync(IEnumerable<MessageReference> openCards, string session, string? botUserId, CancellationToken cancellationToken)
    {
        var emoji = ReactionEmoji.SignOff.Character()!;
        var encoded = Uri.EscapeDataString(emoji);
        foreach (var card in openCards)
        {
            string? after = null;
            var listed = new List<string>();
            // Before the first page: a ✅ added or removed after this may or may not be on the pages, and the core leaves it to the live events.
            var listedAt = time.GetUtcNow();
            try
            {
                while (true)
                {
                    var path = $"channels/{card.ChannelId}/messages/{card.MessageId}/reactions/{encoded}?limit={PageSize}" + (after is null ? "" : $"&after={after}");
                    var page = await rest.SendAsync(new DiscordRequest(HttpMethod.Get, "channels/{channel}/messages/{message}/reactions/{emoji}", path, card.ChannelId), cancellationToken);
                    var users = page.ValueKind == JsonValueKind.Array ? page.EnumerateArray().Select(u => u.GetProperty("id").GetString()!).ToList() : [];
                    listed.AddRange(users.Where(u => u != botUserId));
                    if (users.Count < PageSize)
                        break;
                    after = users[^1];
                }
            }
            catch (DiscordApiException e) when (e.Code is DiscordErrorCodes.UnknownMessage or DiscordErrorCodes.UnknownChannel)
            {
                logger.LogWarning("Discord reconciliation: card {MessageId} in {ChannelId} is gone ({Code})", card.MessageId, card.ChannelId, e.Code);
                continue;
            }
            // Only after every page: a partial listing would revoke whoever is on the pages not read.
            await inbox.AcceptAsync(new SignOffReactionsListed(card, listed, $"reconcile:{session}:{card.MessageId}:{emoji}", listedAt), cancellationToken);
            logger.LogInformation("Discord reconciliation: {Count} sign-off reactions on message {MessageId}", listed.Count, card.MessageId);
        }
    }
}
