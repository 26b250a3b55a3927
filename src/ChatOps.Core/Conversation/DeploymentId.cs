using System.Globalization;

namespace ChatOps.Core.Conversation;

/// <summary>
/// A deployment's id as people see and type it: <c>D-3</c>. The number is positive; <c>d-3</c> and <c>D-03</c>
/// are read as <c>D-3</c>.
/// </summary>
public readonly record struct DeploymentId
{
    public DeploymentId(int number)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(number);
        Number = number;
    }

    public int Number { get; }

    /// <summary>Reads <c>D-n</c> (either case, n a positive integer); anything else is refused.</summary>
    public static bool TryParse(string? text, out DeploymentId id)
    {
        id = default;
        if (text is null || text.Length < 3 || (text[0] != 'D' && text[0] != 'd') || text[1] != '-')
            return false;
        // NumberStyles.None: no sign, no spaces, no separators — only ASCII digits.
        if (!int.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0)
            return false;
        id = new DeploymentId(number);
        return true;
    }

    public override string ToString() => $"D-{Number}";
}
