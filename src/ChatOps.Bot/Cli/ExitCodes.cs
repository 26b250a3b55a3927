namespace ChatOps.Bot.Cli;

/// <summary>What a verb's exit code says happened; the README's table of faults lists which fault gives which.</summary>
public static class ExitCodes
{
    /// <summary>Done: the verb did what was asked (or found it already done).</summary>
    public const int Done = 0;

    /// <summary>Failed after touching the target: a statement, check or criterion failed, or a trigger fired.</summary>
    public const int Failed = 1;

    /// <summary>Refused before touching the target: bad input, bad configuration, a script or runbook that cannot run.</summary>
    public const int Refused = 2;

    /// <summary>The target is busy (another run holds it) or unreachable (down, wrong password, no such database, full).</summary>
    public const int TargetUnavailable = 3;

    /// <summary>Cancelled by the operator (Ctrl-C, SIGTERM): the running statement was cancelled and cleaned up (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    /// <summary>The codes as every verb's <c>--help</c> lists them.</summary>
    public const string Help =
        "Exit codes: 0 done; 1 failed after touching the target; 2 refused before touching it (bad input, configuration, " +
        "script or runbook file); 3 target busy (another run) or unreachable (down, wrong password, no such database, no free connection); 130 cancelled (Ctrl-C or SIGTERM: the running statement cancelled and cleaned up).";
}
