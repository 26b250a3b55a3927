using System.CommandLine;
using ChatOps.Postgres;

namespace ChatOps.Bot.Cli;

/// <summary><c>--target</c>: the database to migrate; falls back to <c>ConnectionStrings:Target</c>. Never a throwaway.</summary>
public static class TargetOption
{
    /// <summary>Where a password comes from, for every <c>--target</c>'s help: nobody needs one on the command line,
    /// where the process list shows it. Npgsql reads PGPASSWORD and pgpass files itself (as libpq does).</summary>
    public const string PasswordHelp =
        "Leave the password out: it is taken from PGPASSWORD, or from a pgpass file (PGPASSFILE, else ~/.pgpass; lines " +
        "host:port:database:user:password). A postgres://user@host:port/db?sslmode=… URI is accepted too.";

    public static Option<string?> Create() => new("--target")
    {
        Description = "The database to migrate, as Host=…;Port=…;Database=…;Username=… " +
                      "(default: ConnectionStrings:Target, e.g. ConnectionStrings__Target=…). " + PasswordHelp,
    };

    /// <summary>The target in Npgsql's form (a URI converted), or null after telling the user how to give one.</summary>
    /// <exception cref="InvalidConnectionStringException">The target cannot be read; the message quotes none of it.</exception>
    public static string? Resolve(ParseResult parse, Option<string?> option, IConfiguration configuration)
    {
        var target = parse.GetValue(option);
        if (string.IsNullOrWhiteSpace(target))
            target = configuration.GetConnectionString("Target");
        if (string.IsNullOrWhiteSpace(target))
        {
            Console.Error.WriteLine("No target database: pass --target \"Host=…;Database=…;Username=…\" (or postgresql://user@host:port/database) " +
                                    "or set ConnectionStrings__Target; the password comes from PGPASSWORD or a pgpass file.");
            return null;
        }
        // Read once here, before anything else sees it: every later use gets a string Npgsql can parse.
        return ConnectionStrings.Normalize(target);
    }
}
