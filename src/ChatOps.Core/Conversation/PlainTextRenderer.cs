using ChatOps.Core.Runbooks;

namespace ChatOps.Core.Conversation;

/// <summary>
/// The local channel's rendering: a <see cref="ChatMessage"/> as console text. Lines end with <c>\n</c> whatever the
/// platform, so a transcript reads the same on every machine.
/// </summary>
public static class PlainTextRenderer
{
    /// <summary>
    /// Title and status on the first line; inline fields that follow each other share a line; checklist items are indented
    /// under their heading with their mark and, for a manual item, its role; mentions (the message's, and those inside a field's
    /// value or a checklist line) as <c>@user</c> and <c>@Role holders</c>; an image as <c>[image: alt (file)]</c>; the footer last.
    /// </summary>
    /// <param name="mention">How a mention reads (the local channel names a role's holders); <see cref="InlineMention.AsPlainText"/> when null.</param>
    public static string Render(ChatMessage message, Func<Mention, string>? mention = null)
    {
        mention ??= InlineMention.AsPlainText;
        var lines = new List<string> { message.Status is { } status ? $"{message.Title}   {status}" : message.Title };

        var inline = new List<string>();
        foreach (var field in message.Fields)
        {
            if (field.Inline)
            {
                inline.Add($"{field.Label}: {InlineMention.Plain(field.Value, mention)}");
                continue;
            }
            FlushInline();
            lines.Add($"{field.Label}: {InlineMention.Plain(field.Value, mention)}");
        }
        FlushInline();

        foreach (var section in message.Checklists)
        {
            lines.Add(section.Heading);
            lines.AddRange(section.Lines.Select(l => $"  {l.State.Mark()} {InlineMention.Plain(l.Text, mention)}{(l.Role is { } role ? $" ({role.Title()})" : "")}"));
        }
        if (message.Mentions.Count > 0)
            lines.Add(string.Join(" ", message.Mentions.Select(mention)));
        if (message.Image is { } image)
            lines.Add($"[image: {image.AltText} ({image.FileName})]");
        if (message.Footer is { } footer)
            lines.Add(footer);
        return string.Join('\n', lines);

        void FlushInline()
        {
            if (inline.Count == 0)
                return;
            lines.Add(string.Join(" · ", inline));
            inline.Clear();
        }
    }

    /// <summary>A thread reply: every line indented by two spaces, so it reads as under the message it answers.</summary>
    public static string IndentReply(string text) =>
        string.Join('\n', text.Split('\n').Select(line => "  " + line.TrimEnd('\r')));

    /// <summary>A reaction as the console shows it: <c>✅ ana reacted on D-3</c>, or <c>… removed their reaction on D-3</c>.</summary>
    /// <param name="emoji">As the person gave it (✅, <c>:thumbsup:</c>).</param>
    public static string ReactionLine(string emoji, string user, DeploymentId deployment, bool removed = false) =>
        removed ? $"{emoji} {user} removed their reaction on {deployment}" : $"{emoji} {user} reacted on {deployment}";
}
