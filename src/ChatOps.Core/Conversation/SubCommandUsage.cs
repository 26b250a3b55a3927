namespace ChatOps.Core.Conversation;

/// <summary>
/// One line of <c>/migrate help</c>: a sub-command, how to type it and what it does. Data, so that each
/// platform renders it its own way; <see cref="ToPlainText"/> is the console's rendering.
/// </summary>
/// <param name="Name">The sub-command as typed, lower case: <c>start</c>.</param>
/// <param name="Usage">How to type it: <c>/migrate start &lt;migration&gt; [--target &lt;name&gt;]</c>.</param>
/// <param name="Summary">What it does, in a few words.</param>
public sealed record SubCommandUsage(string Name, string Usage, string Summary)
{
    /// <summary>The usage, padded to <paramref name="usageWidth"/> so that summaries line up, then the summary.</summary>
    public string ToPlainText(int usageWidth = 0) => $"{Usage.PadRight(usageWidth)}  {Summary}";
}
