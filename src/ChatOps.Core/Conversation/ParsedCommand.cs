using System.Diagnostics.CodeAnalysis;

namespace ChatOps.Core.Conversation;

/// <summary>What <see cref="MigrateGrammar.Parse"/> made of a command line: a command, or an error to show the caller.</summary>
public sealed record ParsedCommand
{
    private ParsedCommand(MigrateCommand? command, CommandError? error)
    {
        Command = command;
        Error = error;
    }

    /// <summary>The command, when the line parsed; otherwise null.</summary>
    public MigrateCommand? Command { get; }

    /// <summary>Why the line did not parse; null when it did.</summary>
    public CommandError? Error { get; }

    [MemberNotNullWhen(true, nameof(Command))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Succeeded => Command is not null;

    public static ParsedCommand Of(MigrateCommand command) => new(command ?? throw new ArgumentNullException(nameof(command)), null);

    public static ParsedCommand Failed(CommandError error) => new(null, error ?? throw new ArgumentNullException(nameof(error)));

    public static implicit operator ParsedCommand(MigrateCommand command) => Of(command);

    public static implicit operator ParsedCommand(CommandError error) => Failed(error);
}
