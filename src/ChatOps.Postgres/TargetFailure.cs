using System.Net.Sockets;
using System.Runtime.CompilerServices;
using ChatOps.Postgres.Execution;
using Npgsql;

namespace ChatOps.Postgres;

/// <summary>What kind of trouble the target is in, as far as the operator can do something about it.</summary>
public enum TargetFailureKind
{
    /// <summary>Another migration run holds the target's run lock.</summary>
    Busy,

    /// <summary>No server answers: connection refused, unknown host, a timeout, a connection that broke.</summary>
    Unreachable,

    /// <summary>The server refused the login: wrong or missing password, no such role, no <c>pg_hba.conf</c> entry, no CONNECT privilege.</summary>
    AuthenticationFailed,

    /// <summary>The database named in the target does not exist, or does not accept connections.</summary>
    DatabaseMissing,

    /// <summary>The server, the database or the role has no connection slot left (53300, 53400).</summary>
    TooManyConnections,

    /// <summary>The server is shutting down, starting up or recovering, or an administrator ended the session (57P01–57P03).</summary>
    ShuttingDown,
}

/// <summary>One clear sentence for a failure to reach or use the target, and its kind.</summary>
public sealed record TargetFailure(TargetFailureKind Kind, string Message)
{
    private static readonly ConditionalWeakTable<Exception, TargetEndpoint> Endpoints = new();

    /// <summary>Records which target <paramref name="exception"/> came from, so <see cref="Classify"/> can name its
    /// host, port, database and user — never anything else of the connection string.</summary>
    public static void Remember(Exception exception, TargetEndpoint endpoint) => Endpoints.AddOrUpdate(exception, endpoint);

    /// <summary>
    /// The failure <paramref name="exception"/> (or an exception inside it) stands for, or null when it is not about
    /// reaching or using the target (a bug, a bad script: the caller's business). The message is built from SQLSTATEs
    /// and the remembered endpoint, never from a connection string.
    /// </summary>
    public static TargetFailure? Classify(Exception exception)
    {
        var endpoint = Chain(exception).Select(e => Endpoints.TryGetValue(e, out var found) ? found : null).FirstOrDefault(e => e is not null);
        var at = endpoint?.HostAndPort ?? "the target";
        var user = endpoint?.Username ?? Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName;
        var database = endpoint?.Database;

        var fromNpgsql = false;
        foreach (var e in Chain(exception))
        {
            // A timeout or broken stream is the target's only inside Npgsql's own exception; elsewhere it is a file's or a bug's.
            fromNpgsql |= e is NpgsqlException;
            switch (e)
            {
                case TargetBusyException busy:
                    return new(TargetFailureKind.Busy, busy.Message);
                case PostgresException pg when FromSqlState(pg, at, user, database) is { } failure:
                    return failure;
                case NpgsqlException npgsql when npgsql.Message.StartsWith("No password has been provided", StringComparison.Ordinal):
                    return new(TargetFailureKind.AuthenticationFailed,
                        $"no password for user {user} on {at}, and the server asks for one — set PGPASSWORD or add a line " +
                        $"host:port:database:user:password to a pgpass file (PGPASSFILE, or ~/.pgpass with mode 0600)");
                case SocketException socket:
                    return new(TargetFailureKind.Unreachable, socket.SocketErrorCode switch
                    {
                        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain =>
                            $"cannot reach PostgreSQL at {at}: the host name does not resolve — check Host= in the target",
                        SocketError.ConnectionRefused =>
                            $"cannot reach PostgreSQL at {at}: connection refused — is the server running and listening on that port?",
                        _ => $"cannot reach PostgreSQL at {at}: {socket.Message}",
                    });
                case TimeoutException when fromNpgsql:
                    return new(TargetFailureKind.Unreachable,
                        $"PostgreSQL at {at} did not answer in time — check the host, the port and the network (Timeout= sets the seconds to wait)");
                case IOException when fromNpgsql:
                    return new(TargetFailureKind.Unreachable, $"the connection to PostgreSQL at {at} broke: {e.Message}");
            }
        }
        return null;
    }

    private static TargetFailure? FromSqlState(PostgresException pg, string at, string user, string? database) => pg.SqlState switch
    {
        PostgresErrorCodes.InvalidPassword =>
            new(TargetFailureKind.AuthenticationFailed,
                $"authentication failed for user {user} on {at} — check the password (PGPASSWORD or a pgpass file)"),
        PostgresErrorCodes.InvalidAuthorizationSpecification when pg.MessageText.Contains("pg_hba.conf", StringComparison.Ordinal) =>
            new(TargetFailureKind.AuthenticationFailed,
                $"authentication failed for user {user} on {at}: the server's pg_hba.conf has no entry for this host, user and database"),
        PostgresErrorCodes.InvalidAuthorizationSpecification =>
            new(TargetFailureKind.AuthenticationFailed,
                $"authentication failed for user {user} on {at}: {pg.MessageText} — check Username= in the target"),
        PostgresErrorCodes.InsufficientPrivilege when pg.MessageText.StartsWith("permission denied for database", StringComparison.Ordinal) =>
            new(TargetFailureKind.AuthenticationFailed,
                $"user {user} may not connect on {at}: {pg.MessageText} — GRANT CONNECT, or use another user"),
        PostgresErrorCodes.InvalidCatalogName =>
            new(TargetFailureKind.DatabaseMissing,
                $"{(database is null ? pg.MessageText : $"database \"{database}\" does not exist")} on {at} — check Database= in the target"),
        PostgresErrorCodes.ObjectNotInPrerequisiteState when pg.MessageText.Contains("not currently accepting connections", StringComparison.Ordinal) =>
            new(TargetFailureKind.DatabaseMissing, $"{pg.MessageText} on {at} (ALTER DATABASE … ALLOW_CONNECTIONS false)"),
        PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.ConfigurationLimitExceeded =>
            new(TargetFailureKind.TooManyConnections,
                $"no connection slot free on {at} ({pg.SqlState}: {pg.MessageText}) — try again when sessions end, or raise " +
                "max_connections or the role's or database's CONNECTION LIMIT"),
        PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow =>
            new(TargetFailureKind.ShuttingDown,
                $"PostgreSQL at {at} is not accepting work ({pg.SqlState}: {pg.MessageText}) — try again once it is up"),
        _ when pg.SqlState.StartsWith("08", StringComparison.Ordinal) =>
            new(TargetFailureKind.Unreachable, $"the connection to PostgreSQL at {at} failed ({pg.SqlState}: {pg.MessageText})"),
        _ => null,
    };

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain))
                    yield return inner;
        }
    }
}

/// <summary>Where a target is, as safe to print: host, port, database and user, never the password.</summary>
public sealed record TargetEndpoint(string Host, int Port, string? Database, string? Username)
{
    /// <summary><c>host:port</c>; several hosts as Npgsql lists them.</summary>
    public string HostAndPort => Host.Contains(',') || Host.StartsWith('/') ? Host : $"{Host}:{Port}";
}
