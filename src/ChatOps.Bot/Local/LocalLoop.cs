using ChatOps.Core.Conversation;

namespace ChatOps.Bot.Local;

/// <summary>
/// The local channel's input side: reads lines until end of input, hands each event to the conductor in order (one at
/// a time, so a reaction typed after a command is seen after it), and prints notices and input errors to the channel.
/// </summary>
public sealed class LocalLoop
{
    private readonly LocalChannel _channel;
    private readonly LocalInput _input;
    private readonly Func<ChatEvent, CancellationToken, Task> _conductor;

    /// <param name="channel">Where notices and input errors are printed, in order with the conversation.</param>
    /// <param name="input">Reads each line; keeps the current user.</param>
    /// <param name="conductor">Answers each event; awaited before the next line is read. Its exceptions end the loop.</param>
    public LocalLoop(LocalChannel channel, LocalInput input, Func<ChatEvent, CancellationToken, Task> conductor)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(conductor);
        _channel = channel;
        _input = input;
        _conductor = conductor;
    }

    /// <summary>Reads <paramref name="reader"/> to its end and returns; cancellation throws <see cref="OperationCanceledException"/>.</summary>
    public async Task RunAsync(TextReader reader, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        while (await ReadLineAsync(reader, cancellationToken) is { } line)
        {
            switch (_input.Read(line))
            {
                case LocalLine.Event e:
                    if (e.Echo is { } echo)
                        _channel.Print(echo);   // reactions are shown, as a platform shows them under the message
                    await _conductor(e.Value, cancellationToken);
                    break;
                case LocalLine.Notice notice:
                    _channel.Print(notice.Text);
                    break;
                case LocalLine.Error error:
                    _channel.Print(error.Text);
                    break;
            }
        }
    }

    private static Task<string?> ReadLineAsync(TextReader reader, CancellationToken cancellationToken) =>
        // Console.In's ReadLineAsync blocks the caller and looks at the token only before it starts, so the read runs on
        // the pool and the wait honours the token: shutdown does not wait for someone to press Enter. A read abandoned
        // that way still takes the next line, so a reader is not meant to be used again after cancellation.
        Task.Run(() => reader.ReadLineAsync(cancellationToken).AsTask(), cancellationToken).WaitAsync(cancellationToken);
}
