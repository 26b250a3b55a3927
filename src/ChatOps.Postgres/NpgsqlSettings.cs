using System.Runtime.CompilerServices;

namespace ChatOps.Postgres;

internal static class NpgsqlSettings
{
    /// <summary>
    /// Npgsql's SQL rewriting splits command text on <c>;</c> and breaks <c>BEGIN ATOMIC</c> bodies. We
    /// split scripts ourselves and send one statement per command, with positional <c>$1</c> parameters,
    /// so the rewriting is turned off for the whole process before any connection opens.
    /// </summary>
#pragma warning disable CA2255 // A library initializer is the point: every host of this library needs the switch set.
    [ModuleInitializer]
    internal static void DisableSqlRewriting() => AppContext.SetSwitch("Npgsql.EnableSqlRewriting", false);
#pragma warning restore CA2255
}
