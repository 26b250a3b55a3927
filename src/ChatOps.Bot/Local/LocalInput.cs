using System.Globalization;
using ChatOps.Core.Conversation;

namespace ChatOps.Bot.Local;

/// <summary>What one line of local input comes to: an event for the conductor, a line to print back, or nothing.</summary>
public abstract record LocalLine
{
    // Private: the four cases below are the only ones the loop has to handle.
    private LocalLine()
    {
    }

    /// <summary>A command or a reaction, for the conductor.</summary>
    /// <param name="Echo">What the console shows of it before the bot answers (a reaction: <c>✅ ana reacted on D-3</c>); null for a command, which is its own echo.</param>
    public sealed record Event(ChatEvent Value, string? Echo = null) : LocalLine;

    /// <summary>Something to tell the person (<c>you are now ana</c>); nothing for the conductor.</summary>
    public sealed record Notice(string Text) : LocalLine;

    /// <summary>The line was not understood, or names a deployment with no card: what to print back.</summary>
    public sealed record Error(string Text) : LocalLine;

    /// <summary>A blank line: nothing to do.</summary>
    public sealed record Blank : LocalLine
    {
        /// <summary>The one blank line.</summary>
        public static Blank Instance { get; } = new();
    }
}

/// <summary>
/// Reads the local channel's standard input, one line at a time: <c>/migrate …</c> as the current user,
/// <c>as &lt;user-id&gt;</c> to switch user, <c>react</c>/<c>unreact &lt;user-id&gt; &lt;emoji&gt; &lt;D-n&gt;</c> on a
/// deployment's card. Keeps the current user, so one instance serves one input stream (not thread-safe).
/// </summary>
public sealed class LocalInput
{
    /// <summary>The channel id a local session uses unless told otherwise.</summary>
    public const string DefaultChannelId = "local";

    /// <summary>The accepted line forms, printed under an error.</summary>
    public const string Usage = """
        One line each:
          /migrate …                        a command, as the current user (/migrate help lists them)
          as <user-id>                      switch the current user
          react <user-id> <emoji> <D-n>     react on the deployment's card (✅ or :white_check_mark:, ⏪ or :rewind:)
          react <user-id> <emoji> <L-n>     react on a message by its number (⏪ on an alert or a rollback prompt)
          unreact <user-id> <emoji> <D-n|L-n>   remove that reaction
          reply <user-id> <D-n> <text>      reply in the card's thread (kept in the deployment's audit trail)
        """;

    private readonly Func<DeploymentId, MessageReference?> _cardOf;
    private readonly string _session;
    private int _lastEventId;

    /// <param name="cardOf">The deployment's card message, or null when there is no such deployment (the conductor knows).</param>
    /// <param name="initialUser">Who types until <c>as</c> says otherwise; the OS user name when null.</param>
    /// <param name="channelId">The channel every command comes from.</param>
    /// <param name="session">
    /// What makes this input's event ids its own (<c>local-&lt;session&gt;-1</c>…): the inbox handles an id once, so a second
    /// session against the same state database must not reuse the first one's ids. A fresh random one when null.
    /// </param>
    public LocalInput(Func<DeploymentId, MessageReference?> cardOf, string? initialUser = null, string channelId = DefaultChannelId, string? session = null)
    {
        ArgumentNullException.ThrowIfNull(cardOf);
        ArgumentException.ThrowIfNullOrWhiteSpace(channelId);
        if (initialUser is not null)
            ArgumentException.ThrowIfNullOrWhiteSpace(initialUser);
        _cardOf = cardOf;
        CurrentUser = initialUser ?? OsUser();
        ChannelId = channelId;
        _session = session ?? Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
    }

    /// <summary>Who a <c>/migrate</c> line is from.</summary>
    public string CurrentUser { get; private set; }

    /// <summary>The channel commands come from.</summary>
    public string ChannelId { get; }

    /// <summary>Reads one line. <c>as</c> changes <see cref="CurrentUser"/>; every <c>/migrate</c> line takes the next event id.</summary>
    public LocalLine Read(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var text = line.Trim();
        if (text.Length == 0)
            return LocalLine.Blank.Instance;

        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var verb = words[0];
        if (verb == MigrateGrammar.SlashCommand)
        {
            return new LocalLine.Event(new CommandReceived(text, CurrentUser, ChannelId, NextEventId()));
        }
        if (Is(verb, "as"))
        {
            if (words.Length != 2)
                return new LocalLine.Error("usage: as <user-id>");
            CurrentUser = words[1];
            return new LocalLine.Notice($"you are now {CurrentUser}");
        }
        if (Is(verb, "react") || Is(verb, "unreact"))
            return Reaction(words, removed: Is(verb, "unreact"));
        if (Is(verb, "reply"))
            return Reply(text, words);

        return new LocalLine.Error($"not understood: {Echo(text)}\n{Usage}");
    }

    /// <summary><c>reply &lt;user-id&gt; &lt;D-n&gt; &lt;text…&gt;</c>: a reply in the card's thread, as the user (lessons learned).</summary>
    private LocalLine Reply(string text, string[] words)
    {
        const string usage = "usage: reply <user-id> <D-n> <text>, e.g. reply ana D-3 the index build took longer than planned";
        if (words.Length < 4)
            return new LocalLine.Error(usage);
        if (!DeploymentId.TryParse(words[2], out var id))
            return new LocalLine.Error($"'{Echo(words[2])}' is not a deployment id: {usage}");
        if (_cardOf(id) is not { } card)
            return new LocalLine.Error($"no deployment {id}: /migrate list shows them");
        // The text as typed after the id, spaces kept.
        var said = text[(text.IndexOf(words[2], text.IndexOf(words[1], words[0].Length, StringComparison.Ordinal) + words[1].Length, StringComparison.Ordinal) + words[2].Length)..].Trim();
        return new LocalLine.Event(new ThreadReplied(words[1], card, said, NextEventId()), $"  ↳ {words[1]} in the thread of {id}: {said}");
    }

    private LocalLine Reaction(string[] words, bool removed)
    {
        var verb = removed ? "unreact" : "react";
        if (words.Length != 4)
            return new LocalLine.Error($"usage: {verb} <user-id> <emoji> <D-n>, e.g. {verb} ana ✅ D-3");
        var (user, emojiName, idText) = (words[1], words[2], words[3]);
        var emoji = ReactionEmojis.Read(emojiName);
        if (IsMessageNumber(idText))
        {
            // A message by the number the console shows (an alert or a prompt to answer with ⏪).
            var message = new MessageReference(ChannelId, idText.ToUpperInvariant());
            ChatEvent onMessage = removed
                ? new ReactionRemoved(user, message, emoji, emojiName, NextEventId())
                : new ReactionAdded(user, message, emoji, emojiName, NextEventId());
            var what = emoji.Character() ?? emojiName;
            return new LocalLine.Event(onMessage, removed ? $"{what} {user} removed their reaction on {message.MessageId}" : $"{what} {user} reacted on {message.MessageId}");
        }
        if (!DeploymentId.TryParse(idText, out var id))
            return new LocalLine.Error($"'{Echo(idText)}' is neither a deployment id nor a message: write D-n (its card, e.g. D-3) or L-number (a message, e.g. L7)");
        if (_cardOf(id) is not { } card)
            return new LocalLine.Error($"no deployment {id}: /migrate list shows them");

        // The raw text is kept for the audit trail ("wrong emoji: :thumbsup:"); Other is still an event the core records.
        ChatEvent reaction = removed
            ? new ReactionRemoved(user, card, emoji, emojiName, NextEventId())
            : new ReactionAdded(user, card, emoji, emojiName, NextEventId());
        return new LocalLine.Event(reaction, PlainTextRenderer.ReactionLine(emoji.Character() ?? emojiName, user, id, removed));
    }

    private static bool IsMessageNumber(string text) =>
        text.Length > 1 && (text[0] is 'L' or 'l') && text[1..].All(char.IsAsciiDigit);

    private string NextEventId() => $"local-{_session}-{(++_lastEventId).ToString(CultureInfo.InvariantCulture)}";

    private static bool Is(string word, string keyword) => string.Equals(word, keyword, StringComparison.OrdinalIgnoreCase);

    // A pasted wall of text should not be echoed back whole.
    private static string Echo(string text) => text.Length <= 40 ? text : text[..39] + "…";

    private static string OsUser()
    {
        var name = Environment.UserName;
        return string.IsNullOrWhiteSpace(name) ? "local-user" : name;
    }
}
