using System.CommandLine;

namespace ChatOps.Bot.Cli;

/// <summary><c>--target</c>: the database to migrate; falls back to <c>ConnectionStrings:Target</c>. Never a throwaway.</summary>
public static class TargetOption
{
    public static Option<string?> Create() => new("--target")
    {
        Description = "Connection string of the database to migrate (default: ConnectionStrings:Target, e.g. ConnectionStrings__Target=…).",
    };

    /// <summary>The target, or null after telling the user how to give one.</summary>
    public static string? Resolve(ParseResult parse, Option<string?> option, IConfiguration configuration)
    {
        var target = parse.GetValue(option);
        if (string.IsNullOrWhiteSpace(target))
            target = configuration.GetConnectionString("Target");
        if (string.IsNullOrWhiteSpace(target))
        {
            Console.Error.WriteLine("No target database: pass --target \"Host=…;Database=…;Username=…\" or set ConnectionStrings__Target.");
            return null;
        }
        return target;
    }
}
