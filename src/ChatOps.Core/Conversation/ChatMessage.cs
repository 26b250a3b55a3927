using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Conversation;

/// <summary>
/// A message as the bot means it, before any platform renders it: Slack turns it into Block Kit, Discord into an
/// embed, the local channel into console text. Immutable; a card is edited by rendering a new one.
/// </summary>
/// <param name="Title">The first line: what the message is about (<c>🗄️ D-3 · add_index → db:5432/app</c>).</param>
/// <param name="Status">One line answering "is everything OK?" (<c>⏳ AWAITING SIGN-OFF (2/4)</c>); null when the message has none.</param>
public sealed record ChatMessage(string Title, string? Status = null)
{
    /// <summary>Label/value pairs, in order.</summary>
    public IReadOnlyList<MessageField> Fields { get; init; } = [];

    /// <summary>Checklists under their headings, in order.</summary>
    public IReadOnlyList<ChecklistSection> Checklists { get; init; } = [];

    /// <summary>Who the message calls on. Data, not syntax: each adapter writes its own mention form.</summary>
    public IReadOnlyList<Mention> Mentions { get; init; } = [];

    /// <summary>A chart or other picture, when one helps.</summary>
    public MessageImage? Image { get; init; }

    /// <summary>The last line: typically what happens next and what a person can do.</summary>
    public string? Footer { get; init; }
}

/// <summary>A label and its value; <paramref name="Inline"/> fields may share a line with their inline neighbours.</summary>
/// <param name="Value">Text, which may carry mentions written with <see cref="InlineMention.Of"/>.</param>
public sealed record MessageField(string Label, string Value, bool Inline = false);

/// <summary>A heading and the checklist lines under it (<c>Pre-deployment checks</c>, <c>Sign-off</c>).</summary>
public sealed record ChecklistSection(string Heading, IReadOnlyList<ChecklistLine> Lines);

/// <summary>One checklist line: its state, what it says and, for a manual item, the role that confirms it.</summary>
/// <param name="Text">Text, which may carry mentions written with <see cref="InlineMention.Of"/>.</param>
public sealed record ChecklistLine(ChecklistState State, string Text, SignOffRole? Role = null);

/// <summary>The state a checklist line shows.</summary>
public enum ChecklistState
{
    /// <summary>✅ passed, confirmed or signed.</summary>
    Done,
    /// <summary>❌ failed.</summary>
    Failed,
    /// <summary>⚠️ passed with a warning, or worth a look.</summary>
    Warning,
    /// <summary>☐ not yet confirmed.</summary>
    Open,
    /// <summary>➖ does not apply, or nothing to show.</summary>
    NotApplicable,
}

/// <summary>The marks every platform shows for a <see cref="ChecklistState"/>.</summary>
public static class ChecklistMarks
{
    public static string Mark(this ChecklistState state) => state switch
    {
        ChecklistState.Done => "✅",
        ChecklistState.Failed => "❌",
        ChecklistState.Warning => "⚠️",
        ChecklistState.Open => "☐",
        _ => "➖",
    };
}

/// <summary>Someone a message calls on: one person, or everyone holding a sign-off role.</summary>
public abstract record Mention
{
    // Private: the two cases below are the only ones adapters have to render.
    private Mention()
    {
    }

    /// <summary>A person, by their platform user id.</summary>
    public sealed record User(string UserId) : Mention;

    /// <summary>Everyone holding <paramref name="Role"/> (<c>ChatOps:Roles:&lt;Role&gt;</c>, or the platform group the adapter maps it to).</summary>
    public sealed record RoleGroup(SignOffRole Role) : Mention;
}

/// <summary>
/// A mention inside a field's value or a checklist line ("requested by @ana"): <see cref="Of"/> writes a token that each
/// renderer turns into its platform's form — Slack <c>&lt;@U…&gt;</c>, Discord <c>&lt;@id&gt;</c>, the console <c>@id</c> —
/// through <see cref="Render"/>. Unlike <see cref="ChatMessage.Mentions"/> it calls on nobody by itself: it names someone where
/// the platform shows a name rather than an id.
/// </summary>
public static class InlineMention
{
    // Private-use characters: never in text people type, in file names or in what PostgreSQL reports, so plain text never
    // reads as a mention and a mention's id cannot end early.
    private const char Open = '\uE000';
    private const char Close = '\uE001';
    private const char UserKind = 'u';
    private const char RoleKind = 'r';

    /// <summary>The token for <paramref name="mention"/>, to write inside text.</summary>
    public static string Of(Mention mention) => mention switch
    {
        Mention.User user when user.UserId.Length > 0 && user.UserId.IndexOfAny([Open, Close]) < 0 => $"{Open}{UserKind}{user.UserId}{Close}",
        Mention.User user => throw new ArgumentException($"'{user.UserId}' is no user id", nameof(mention)),
        Mention.RoleGroup group => $"{Open}{RoleKind}{group.Role}{Close}",
        _ => throw new ArgumentOutOfRangeException(nameof(mention), mention, "a mention is a user or a role group"),
    };

    /// <summary>
    /// <paramref name="text"/> with its plain parts passed through <paramref name="plain"/> (a platform's escaping) and its mentions
    /// through <paramref name="mention"/> (the platform's mention form). A token cut off or not understood stays plain text.
    /// </summary>
    public static string Render(string text, Func<string, string> plain, Func<Mention, string> mention)
    {
        if (text.IndexOf(Open, StringComparison.Ordinal) < 0)
            return plain(text);
        var rendered = new System.Text.StringBuilder();
        var at = 0;
        while (at < text.Length)
        {
            var open = text.IndexOf(Open, at);
            var close = open < 0 ? -1 : text.IndexOf(Close, open);
            if (open < 0 || close < 0)
            {
                rendered.Append(plain(text[at..]));
                break;
            }
            if (open > at)
                rendered.Append(plain(text[at..open]));
            rendered.Append(Read(text[(open + 1)..close]) is { } read ? mention(read) : plain(text[open..(close + 1)]));
            at = close + 1;
        }
        return rendered.ToString();
    }

    /// <summary>The text as the console shows it: <c>@id</c> for a person, <c>@Role holders</c> for a role (or as <paramref name="mention"/> says).</summary>
    public static string Plain(string text, Func<Mention, string>? mention = null) => Render(text, t => t, mention ?? AsPlainText);

    /// <summary>A mention as plain text: <c>@id</c>, or <c>@Role holders</c>.</summary>
    public static string AsPlainText(Mention mention) => mention switch
    {
        Mention.User user => "@" + user.UserId,
        Mention.RoleGroup group => $"@{group.Role.Title()} holders",
        _ => throw new ArgumentOutOfRangeException(nameof(mention), mention, "a mention is a user or a role group"),
    };

    private static Mention? Read(string token) => token.Length < 2 ? null : token[0] switch
    {
        UserKind => new Mention.User(token[1..]),
        RoleKind when Enum.TryParse<SignOffRole>(token[1..], out var role) && Enum.IsDefined(role) => new Mention.RoleGroup(role),
        _ => null,
    };
}

/// <summary>A picture attached to a message (a PNG chart, say).</summary>
/// <param name="Content">The file's bytes.</param>
/// <param name="FileName">The name the platform shows and uploads it as (<c>lock-wait.png</c>).</param>
/// <param name="AltText">What it shows, for screen readers and for the console, which cannot show it.</param>
public sealed record MessageImage(ReadOnlyMemory<byte> Content, string FileName, string AltText);
