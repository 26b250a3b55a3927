using ChatOps.Testing;
using Npgsql;

namespace ChatOps.Postgres.Tests;

/// <summary><see cref="TargetFailure.Classify"/>: the SQLSTATEs and socket errors of a target in trouble, and nothing else.</summary>
public class TargetFailureTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_session_an_administrator_terminated_is_the_target_shutting_down()
    {
        await using var session = await TargetSession.OpenAsync(db.ConnectionString, "chatops:victim", CancellationToken.None);
        await db.ScalarAsync<bool>("SELECT pg_terminate_backend($1)", session.ProcessID);
        await using var command = new NpgsqlCommand("SELECT pg_sleep(0)", session);
        var thrown = await Assert.ThrowsAnyAsync<NpgsqlException>(() => command.ExecuteNonQueryAsync());
        var failure = TargetFailure.Classify(thrown);
        Assert.NotNull(failure);
        Assert.Equal(TargetFailureKind.ShuttingDown, failure.Kind);
        Assert.Contains("57P01", failure.Message);
    }

    [Fact]
    public async Task A_connect_failure_names_host_port_database_and_user_from_the_target_and_nothing_else()
    {
        var target = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Database = "absent_db", Password = "Zq;secret" }.ConnectionString;
        var thrown = await Assert.ThrowsAsync<PostgresException>(() => TargetSession.OpenAsync(target, "chatops:test", CancellationToken.None));
        var failure = TargetFailure.Classify(thrown)!;
        var b = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        Assert.Equal(TargetFailureKind.DatabaseMissing, failure.Kind);
        Assert.Equal($"database \"absent_db\" does not exist on {b.Host}:{b.Port} — check Database= in the target", failure.Message);
    }

    [Theory]
    [InlineData("57P03", "the database system is shutting down", TargetFailureKind.ShuttingDown)]
    [InlineData("53400", "remaining connection slots are reserved", TargetFailureKind.TooManyConnections)]
    [InlineData("53300", "sorry, too many clients already", TargetFailureKind.TooManyConnections)]
    [InlineData("28P01", "password authentication failed for user \"u\"", TargetFailureKind.AuthenticationFailed)]
    [InlineData("08006", "connection failure", TargetFailureKind.Unreachable)]
    public void Sqlstates_of_a_target_in_trouble_are_classified(string sqlState, string text, TargetFailureKind kind)
    {
        var failure = TargetFailure.Classify(new NpgsqlException("outer", new PostgresException(text, "FATAL", "FATAL", sqlState)));
        Assert.Equal(kind, failure?.Kind);
    }

    [Fact]
    public void Failures_that_are_not_the_targets_are_left_to_the_caller()
    {
        Assert.Null(TargetFailure.Classify(new InvalidOperationException("a bug")));
        Assert.Null(TargetFailure.Classify(new IOException("disk full")));               // a file's, not a connection's
        Assert.Null(TargetFailure.Classify(new TimeoutException("some other wait")));
        Assert.Null(TargetFailure.Classify(new PostgresException("syntax error", "ERROR", "ERROR", "42601")));
    }
}
