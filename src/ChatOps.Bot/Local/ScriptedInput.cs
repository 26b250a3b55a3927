using System.Threading.Channels;

namespace ChatOps.Bot.Local;

/// <summary>
/// Standard input as a script types it: a <see cref="TextReader"/> for <see cref="LocalLoop"/> whose lines come from
/// <see cref="TypeAsync"/>, so scripted lines reach the bot through the same loop, input reader and inbox as a person's. When the
/// script is <see cref="End">done</see>, the reader goes on with <c>then</c> (a person at the console), or ends.
/// </summary>
public sealed class ScriptedInput(TextReader? then = null) : TextReader
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });
    // Released each time the loop asks for a line: the line before it has been answered (LocalLoop awaits each one).
    private readonly SemaphoreSlim _asked = new(0);

    /// <summary>
    /// Types <paramref name="line"/> once the loop is ready for it, and returns once the loop has answered it (the inbox took the
    /// event and the bot settled, as for a person's line).
    /// </summary>
    public async Task TypeAsync(string line, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(line);
        await _asked.WaitAsync(cancellationToken);
        await _lines.Writer.WriteAsync(line, cancellationToken);
        await _asked.WaitAsync(cancellationToken);
        _asked.Release();   // ready for the next line
    }

    /// <summary>The script is over: the loop reads <c>then</c> from here on, or sees the end of input.</summary>
    public void End() => _lines.Writer.TryComplete();

    /// <inheritdoc />
    public override async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _asked.Release();
        if (await _lines.Reader.WaitToReadAsync(cancellationToken) && _lines.Reader.TryRead(out var line))
            return line;
        return then is null ? null : await then.ReadLineAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override Task<string?> ReadLineAsync() => ReadLineAsync(CancellationToken.None).AsTask();

    /// <inheritdoc />
    /// <remarks>The script types while the reader waits: only the asynchronous reads are supported.</remarks>
    public override string? ReadLine() => throw new NotSupportedException("a scripted input is read with ReadLineAsync");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _asked.Dispose();
        base.Dispose(disposing);
    }
}
