using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary>Targets as people write them: keyword strings and postgres:// URIs; no error ever quotes a piece of one.</summary>
public class ConnectionStringTests
{
    [Fact]
    public void A_uri_becomes_npgsqls_form_percent_decoded()
    {
        var b = new NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(
            "postgresql://app%40corp:p%3Ba%3Ds%40s%3A1@db.example.com:6543/orders%20db?sslmode=verify-full&application_name=chatops&connect_timeout=7"));
        Assert.Equal("app@corp", b.Username);
        Assert.Equal("p;a=s@s:1", b.Password);
        Assert.Equal("db.example.com", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("orders db", b.Database);
        Assert.Equal(SslMode.VerifyFull, b.SslMode);
        Assert.Equal("chatops", b.ApplicationName);
        Assert.Equal(7, b.Timeout);
    }

    [Theory]
    [InlineData("postgres://localhost", "localhost", 5432, null, null)]
    [InlineData("postgres://u@[::1]:5433/d", "::1", 5433, "u", "d")]
    [InlineData("POSTGRESQL://u@h/d?port=5999&user=v", "h", 5999, "v", "d")]
    [InlineData("postgresql://h1:5432,h2:5433/d", "h1:5432,h2:5433", 5432, null, "d")]
    public void Uri_forms_of_libpq_are_accepted(string uri, string host, int port, string? user, string? database)
    {
        var b = ConnectionStrings.Parse(uri);
        Assert.Equal(host, b.Host);
        Assert.Equal(port, b.Port);
        Assert.Equal(user, b.Username);
        Assert.Equal(database, b.Database);
        Assert.Null(b.Password);
    }

    [Theory]
    [InlineData("Host=h;Username=u;Password=Se;cr=et99;Database=d")]        // unquoted ';' and '=' in the password
    [InlineData("Host=h;Username=u;Password=\"Se;cr=et99;Database=d")]      // an unclosed quote
    [InlineData("Host=h;Port=Secr3tPort;Password=Secr3tPort")]
    [InlineData("postgresql://u:Se%ZZcr3t@h/d")]                              // bad percent-encoding
    [InlineData("postgresql://u:Secr3t@h:Secr3t/d")]
    [InlineData("postgresql://u:Secr3t@h/d?Secr3t=1")]
    public void An_unreadable_target_is_refused_quoting_no_part_of_it(string target)
    {
        var error = Assert.Throws<InvalidConnectionStringException>(() => ConnectionStrings.Parse(target));
        foreach (var fragment in new[] { "Se;cr", "cr=et", "et99", "Secr3t", "secr3t", "cr3tPort", "se" + "crt" })
            Assert.DoesNotContain(fragment, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("PGPASSWORD", error.Message);
        Assert.Equal("an unparsable connection string", ConnectionStrings.Describe(target));
    }

    [Fact]
    public void Describe_names_server_database_and_user_only()
    {
        Assert.Equal("h:5432/d as u", ConnectionStrings.Describe("Host=h;Username=u;Password=\"Se;cr=et\";Database=d"));
        Assert.Equal("h:6000/d as u", ConnectionStrings.Describe("postgres://u:secret@h:6000/d"));
    }
}
