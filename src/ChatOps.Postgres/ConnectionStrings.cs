using Npgsql;

namespace ChatOps.Postgres;

/// <summary>
/// Thrown for a connection string that cannot be read. Its message names no part of the string: with an unquoted
/// <c>;</c> or <c>=</c> in a password, any fragment could be a piece of the password.
/// </summary>
public sealed class InvalidConnectionStringException(string message) : Exception(message);

/// <summary>Connection string helpers that keep secrets out of what people and logs see.</summary>
public static class ConnectionStrings
{
    private const string Forms =
        "write it as Host=…;Port=…;Database=…;Username=… (double-quote a value holding ';', '=' or quotes: Password=\"a;b=c\") " +
        "or as postgresql://user@host:port/database?sslmode=… (percent-encode special characters), and leave the password to " +
        "PGPASSWORD or a pgpass file";

    /// <summary>
    /// Reads an Npgsql connection string or a <c>postgres://</c> / <c>postgresql://</c> URI. Every parse of a
    /// target goes through here, so Npgsql's own parse errors — which quote fragments of the string, lower-cased —
    /// never reach a message or a log.
    /// </summary>
    /// <exception cref="InvalidConnectionStringException">The text is neither; the message quotes none of it.</exception>
    public static NpgsqlConnectionStringBuilder Parse(string connectionString)
    {
        try
        {
            return IsUri(connectionString) ? PostgresUri.Parse(connectionString) : new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            throw new InvalidConnectionStringException($"The target connection string cannot be read (a keyword is unknown or a value is malformed): {Forms}.");
        }
    }

    /// <summary>The target in Npgsql's keyword form: a URI converted, anything else checked and returned as Npgsql writes it.</summary>
    public static string Normalize(string connectionString) => Parse(connectionString).ConnectionString;

    /// <summary>Host, port, database and user of a target — what may be printed.</summary>
    public static TargetEndpoint Endpoint(NpgsqlConnectionStringBuilder builder) =>
        new(builder.Host ?? Environment.GetEnvironmentVariable("PGHOST") ?? "localhost", builder.Port, builder.Database, builder.Username);

    /// <summary>"host:port/database as user", never the password.</summary>
    public static string Describe(string connectionString)
    {
        try
        {
            var b = Parse(connectionString);
            return $"{b.Host}:{b.Port}/{b.Database ?? b.Username} as {b.Username}";
        }
        catch (InvalidConnectionStringException)
        {
            return "an unparsable connection string";
        }
    }

    /// <summary>The same server, another database.</summary>
    public static string WithDatabase(string connectionString, string database)
    {
        var b = Parse(connectionString);
        b.Database = database;
        return b.ConnectionString;
    }

    /// <summary>The same server with an <c>application_name</c>, so monitoring can tell whose session it is.</summary>
    public static string WithApplicationName(string connectionString, string applicationName)
    {
        var b = Parse(connectionString);
        b.ApplicationName = applicationName;
        return b.ConnectionString;
    }

    private static bool IsUri(string s) =>
        s.TrimStart().StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
        s.TrimStart().StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    /// <summary>libpq's URI form: <c>postgresql://[user[:password]@][host][:port][,…][/dbname][?param=value&amp;…]</c>.</summary>
    private static class PostgresUri
    {
        public static NpgsqlConnectionStringBuilder Parse(string uri)
        {
            var rest = uri.Trim();
            rest = rest[(rest.IndexOf("://", StringComparison.Ordinal) + 3)..];
            var b = new NpgsqlConnectionStringBuilder();

            var query = "";
            if (rest.IndexOf('?') is var q and >= 0)
                (rest, query) = (rest[..q], rest[(q + 1)..]);
            // The last '@' ends the user info: an unencoded '@' in a password is still taken whole.
            if (rest.LastIndexOf('@') is var at and >= 0)
            {
                var userInfo = rest[..at];
                rest = rest[(at + 1)..];
                var colon = userInfo.IndexOf(':');
                var user = Decode(colon < 0 ? userInfo : userInfo[..colon], "the user name");
                if (user.Length > 0) b.Username = user;
                if (colon >= 0) b.Password = Decode(userInfo[(colon + 1)..], "the password");
            }
            var slash = rest.IndexOf('/');
            var hosts = slash < 0 ? rest : rest[..slash];
            if (slash >= 0 && Decode(rest[(slash + 1)..], "the database name") is { Length: > 0 } database)
                b.Database = database;
            if (hosts.Length > 0)
                SetHosts(b, hosts);

            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var name = Decode(eq < 0 ? pair : pair[..eq], "a parameter name");
                var value = eq < 0 ? "" : Decode(pair[(eq + 1)..], $"the value of {name}");
                Set(b, name, value);
            }
            return b;
        }

        private static void SetHosts(NpgsqlConnectionStringBuilder b, string hosts)
        {
            var specs = hosts.Split(',').Select(h => SplitHostPort(Decode(h, "the host"))).ToList();
            if (specs.Count == 1)
            {
                if (specs[0].Host.Length > 0) b.Host = specs[0].Host;
                if (specs[0].Port is { } port) b.Port = port;
                return;
            }
            // Several hosts: Npgsql takes host:port pairs in Host.
            b.Host = string.Join(',', specs.Select(s => s.Port is { } p ? $"{s.Host}:{p}" : s.Host));
        }

        private static (string Host, int? Port) SplitHostPort(string spec)
        {
            var close = spec.StartsWith('[') ? spec.IndexOf(']') : -1;
            var colon = spec.LastIndexOf(':');
            if (colon < 0 || colon < close)
                return (Unbracket(spec), null);
            if (!int.TryParse(spec[(colon + 1)..], out var port) || port is < 1 or > 65535)
                throw Invalid("a port is not a number from 1 to 65535");
            return (Unbracket(spec[..colon]), port);
        }

        private static string Unbracket(string host) => host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;

        private static void Set(NpgsqlConnectionStringBuilder b, string name, string value)
        {
            switch (name)
            {
                case "user": b.Username = value; break;
                case "password": b.Password = value; break;
                case "dbname": b.Database = value; break;
                case "host": SetHosts(b, value); break;
                case "port":
                    if (!int.TryParse(value, out var port) || port is < 1 or > 65535)
                        throw Invalid("the port parameter is not a number from 1 to 65535");
                    b.Port = port;
                    break;
                case "sslmode":
                    b.SslMode = value switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw Invalid($"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full"),
                    };
                    break;
                case "sslrootcert": b.RootCertificate = value; break;
                case "sslcert": b.SslCertificate = value; break;
                case "sslkey": b.SslKey = value; break;
                case "passfile": b.Passfile = value; break;
                case "application_name": b.ApplicationName = value; break;
                case "options": b.Options = value; break;
                case "connect_timeout":
                    if (!int.TryParse(value, out var seconds) || seconds < 0)
                        throw Invalid("connect_timeout is not a whole number of seconds");
                    b.Timeout = seconds;
                    break;
                case "target_session_attrs": b.TargetSessionAttributes = value; break;
                default:
                    // Not even the parameter's name is quoted back: with a stray '&' or '?' it may be part of a password.
                    throw Invalid("a URI parameter is not supported (supported: user, password, dbname, host, port, sslmode, sslrootcert, " +
                                  "sslcert, sslkey, passfile, application_name, options, connect_timeout, target_session_attrs)");
            }
        }

        private static string Decode(string part, string what)
        {
            // Uri.UnescapeDataString leaves a malformed escape as it is; libpq refuses it, and so do we.
            for (var i = part.IndexOf('%'); i >= 0; i = part.IndexOf('%', i + 1))
                if (i + 2 >= part.Length || !char.IsAsciiHexDigit(part[i + 1]) || !char.IsAsciiHexDigit(part[i + 2]))
                    throw Invalid($"{what} is not percent-encoded correctly ('%' must be followed by two hex digits; write %25 for '%')");
            return Uri.UnescapeDataString(part);
        }

        private static InvalidConnectionStringException Invalid(string why) =>
            new($"The target URI cannot be read: {why}; {Forms}.");
    }
}
