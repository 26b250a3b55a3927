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
public sealed record MessageField(string Label, string Value, bool Inline = false);

/// <summary>A heading and the checklist lines under it (<c>Pre-deployment checks</c>, <c>Sign-off</c>).</summary>
public sealed record ChecklistSection(string Heading, IReadOnlyList<ChecklistLine> Lines);

/// <summary>One checklist line: its state, what it says and, for a manual item, the role that confirms it.</summary>
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

/// <summary>A picture attached to a message (a PNG chart, say).</summary>
/// <param name="Content">The file's bytes.</param>
/// <param name="FileName">The name the platform shows and uploads it as (<c>lock-wait.png</c>).</param>
/// <param name="AltText">What it shows, for screen readers and for the console, which cannot show it.</param>
public sealed record MessageImage(ReadOnlyMemory<byte> Content, string FileName, string AltText);
