using Npgsql;

namespace ChatOps.Benchmarks;

/// <summary>How a set of platform events fared in the state database's inbox.</summary>
/// <param name="Expected">Distinct events sent.</param>
/// <param name="Kept">Of those, how many the inbox holds (one row per event id).</param>
/// <param name="Handled">Of those, how many are marked handled.</param>
/// <param name="ExtraRows">Rows beyond one per event id (the primary key should make this 0).</param>
/// <param name="FirstReceived">When the first of them was taken, on the server's clock.</param>
/// <param name="LastReceived">When the last of them was taken.</param>
/// <param name="LastHandled">When the last of them was handled.</param>
public sealed record InboxTally(int Expected, int Kept, int Handled, int ExtraRows, DateTimeOffset? FirstReceived, DateTimeOffset? LastReceived, DateTimeOffset? LastHandled)
{
    /// <summary>Events taken into the inbox per second, from the first to the last taken.</summary>
    public double TakenPerSecond => FirstReceived is { } first && LastReceived is { } last && last > first ? Kept / (last - first).TotalSeconds : double.NaN;

    /// <summary>Events handled per second, from the first taken to the last handled.</summary>
    public double HandledPerSecond => FirstReceived is { } first && LastHandled is { } last && last > first ? Handled / (last - first).TotalSeconds : double.NaN;
}

/// <summary>How many audit lines each of a set of people left on one deployment.</summary>
/// <param name="Once">People with exactly one line.</param>
/// <param name="Twice">People with more than one (an event handled twice).</param>
/// <param name="Missing">People with none (an event lost).</param>
/// <param name="Sample">One of the lines, as written.</param>
public sealed record AuditTally(int Once, int Twice, int Missing, string? Sample);

/// <summary>Reads the bot's state database: the inbox, the audit trail, deployments. The benchmarks' source of truth for "handled once".</summary>
public sealed class StateLedger(string connectionString)
{
    public async Task<InboxTally> InboxAsync(string platform, IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT count(DISTINCT event_id)::int, count(DISTINCT event_id) FILTER (WHERE handled_at IS NOT NULL)::int,
                   (count(*) - count(DISTINCT event_id))::int, min(received_at), max(received_at), max(handled_at)
            FROM chatops_state.inbox WHERE platform = $1 AND event_id = ANY($2)
            """, connection) { Parameters = { new() { Value = platform }, new() { Value = eventIds.ToArray() } } };
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return new InboxTally(eventIds.Count, r.GetInt32(0), r.GetInt32(1), r.GetInt32(2),
            r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3), r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4),
            r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5));
    }

    public async Task<AuditTally> AuditAsync(int deployment, IReadOnlyCollection<string> users, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT who, count(*)::int, min(what) FROM chatops_state.audit_events WHERE deployment = $1 AND who = ANY($2) GROUP BY who
            """, connection) { Parameters = { new() { Value = deployment }, new() { Value = users.ToArray() } } };
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        int once = 0, twice = 0, seen = 0;
        string? sample = null;
        while (await r.ReadAsync(cancellationToken))
        {
            seen++;
            if (r.GetInt32(1) == 1) once++;
            else twice++;
            sample ??= r.GetString(2);
        }
        return new AuditTally(once, twice, users.Count - seen, sample);
    }

    /// <summary>The deployment's state (<c>Running</c>, <c>AwaitingApproval</c> …), or null.</summary>
    public async Task<string?> StateOfAsync(int deployment, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT state FROM chatops_state.deployments WHERE id = $1", connection) { Parameters = { new() { Value = deployment } } };
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Events of <paramref name="platform"/> not yet handled.</summary>
    public async Task<long> PendingAsync(string platform, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM chatops_state.inbox WHERE platform = $1 AND handled_at IS NULL", connection)
        {
            Parameters = { new() { Value = platform } },
        };
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Messages of <paramref name="platform"/> the outbox has sent, those waiting, and those set aside after failing.</summary>
    public async Task<(long Sent, long Waiting, long Parked)> OutboxAsync(string platform, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL),
                   count(*) FILTER (WHERE parked_at IS NOT NULL)
            FROM chatops_state.outbox WHERE platform = $1
            """, connection) { Parameters = { new() { Value = platform } } };
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
