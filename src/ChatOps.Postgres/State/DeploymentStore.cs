using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>
/// Deployments in the state database: each save writes the deployment's row, its current sign-offs and the audit lines not
/// yet stored, in one transaction; a load gives back the aggregate exactly as saved. The roles and the sign-off policy come
/// from configuration, not from storage: they are passed in.
/// </summary>
public sealed class DeploymentStore(string connectionString, RoleHolders holders, SignOffPolicy policy, DeploymentPermissions? permissions = null)
{
    /// <summary>The sign-off rules deployments are judged by (configuration, not storage).</summary>
    public SignOffPolicy Policy => policy;

    /// <summary>Who may control deployments (configuration, not storage).</summary>
    public DeploymentPermissions Permissions { get; } = permissions ?? new DeploymentPermissions(holders);

    /// <summary>Each migration's latest deployment here: its id and state.</summary>
    public async Task<IReadOnlyDictionary<string, (DeploymentId Id, DeploymentState State)>> LatestByMigrationAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT DISTINCT ON (migration) migration, id, state FROM chatops_state.deployments ORDER BY migration, id DESC", connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var latest = new Dictionary<string, (DeploymentId, DeploymentState)>();
        while (await r.ReadAsync(cancellationToken))
            latest[r.GetString(0)] = (new DeploymentId(r.GetInt32(1)), Enum.Parse<DeploymentState>(r.GetString(2)));
        return latest;
    }

    /// <summary>The next deployment number (D-1, D-2 …), never reused.</summary>
    public async Task<DeploymentId> NextIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT nextval('chatops_state.deployment_numbers')::int", connection);
        return new DeploymentId((int)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    public async Task SaveAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var m = deployment.Migration;
        await ExecAsync(connection, """
            INSERT INTO chatops_state.deployments (id, migration, sql_name, sql_sha256, sql_bytes, rollback_name, rollback_sha256, rollback_bytes,
                runbook_name, runbook_sha256, runbook_bytes, target, requester, channel, state, phase, voided_because, checks_pass)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, phase = excluded.phase, voided_because = excluded.voided_because,
                checks_pass = excluded.checks_pass, updated_at = now()
            """, cancellationToken,
            deployment.Id.Number, m.Id, m.Sql.Name, m.Sql.Sha256, m.Sql.Bytes,
            Text(m.Rollback?.Name), Text(m.Rollback?.Sha256), Bytes(m.Rollback?.Bytes),
            Text(m.Runbook?.Name), Text(m.Runbook?.Sha256), Bytes(m.Runbook?.Bytes),
            deployment.Target, deployment.Requester, deployment.Channel, deployment.State.ToString(), Text(deployment.Phase?.ToString()),
            Text(deployment.VoidedBecause), deployment.ChecksPass);

        await ExecAsync(connection, "DELETE FROM chatops_state.sign_offs WHERE deployment = $1", cancellationToken, deployment.Id.Number);
        foreach (var (user, at) in deployment.SignOffs.Signers)
            await ExecAsync(connection, "INSERT INTO chatops_state.sign_offs (deployment, user_id, signed_at) VALUES ($1, $2, $3)",
                cancellationToken, deployment.Id.Number, user, at);

        // The audit trail is append-only: only lines past those stored are written.
        await using var count = new NpgsqlCommand("SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = $1", connection);
        count.Parameters.Add(new NpgsqlParameter { Value = deployment.Id.Number });
        var stored = (int)(await count.ExecuteScalarAsync(cancellationToken))!;
        for (var seq = stored; seq < deployment.Audit.Count; seq++)
        {
            var a = deployment.Audit[seq];
            await ExecAsync(connection, "INSERT INTO chatops_state.audit_events (deployment, seq, at, who, what, counted) VALUES ($1, $2, $3, $4, $5, $6)",
                cancellationToken, deployment.Id.Number, seq, a.At, a.Who, a.What, a.Counted);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Where the deployment's card was posted, and the pre-deployment checks it shows (kept as JSON).</summary>
    public async Task SetCardAsync(DeploymentId id, string? cardMessage, IReadOnlyList<CheckResult> checks, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecAsync(connection, "UPDATE chatops_state.deployments SET card_message = $2, checks = $3::jsonb, updated_at = now() WHERE id = $1",
            cancellationToken, id.Number, Text(cardMessage), System.Text.Json.JsonSerializer.Serialize(checks));
    }

    /// <summary>The card's message id and checks, as <see cref="SetCardAsync"/> left them.</summary>
    public async Task<(string? CardMessage, IReadOnlyList<CheckResult> Checks)> CardAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT card_message, checks::text FROM chatops_state.deployments WHERE id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id.Number });
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
            return (null, []);
        var checks = r.IsDBNull(1) ? [] : System.Text.Json.JsonSerializer.Deserialize<List<CheckResult>>(r.GetString(1)) ?? [];
        return (r.IsDBNull(0) ? null : r.GetString(0), checks);
    }

    /// <summary>The cards a reaction can still act on (a completed or failed deployment can be rolled back), by deployment.</summary>
    public async Task<IReadOnlyList<(DeploymentId Id, MessageReference Card)>> ActiveCardsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT id, channel, card_message FROM chatops_state.deployments
            WHERE card_message IS NOT NULL AND state NOT IN ('RolledBack', 'Aborted')
            """, connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var cards = new List<(DeploymentId, MessageReference)>();
        while (await r.ReadAsync(cancellationToken))
            cards.Add((new DeploymentId(r.GetInt32(0)), new MessageReference(r.GetString(1), r.GetString(2))));
        return cards;
    }

    /// <summary>The deployment whose card is <paramref name="cardMessage"/>, if any.</summary>
    public async Task<DeploymentId?> ByCardAsync(string cardMessage, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT id FROM chatops_state.deployments WHERE card_message = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = cardMessage });
        return await command.ExecuteScalarAsync(cancellationToken) is int id ? new DeploymentId(id) : null;
    }

    /// <summary>The deployment, or null when there is no such one.</summary>
    public async Task<Deployment?> LoadAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await LoadAsync(connection, id, cancellationToken);
    }

    /// <summary>The channel's deployments that are not finished, oldest first.</summary>
    public async Task<IReadOnlyList<Deployment>> ActiveInAsync(string channel, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var ids = new List<int>();
        await using (var command = new NpgsqlCommand("""
            SELECT id FROM chatops_state.deployments
            WHERE channel = $1 AND state NOT IN ('Completed', 'RolledBack', 'RollbackFailed', 'Aborted') ORDER BY id
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = channel });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                ids.Add(reader.GetInt32(0));
        }
        var active = new List<Deployment>();
        foreach (var id in ids)
            active.Add((await LoadAsync(connection, new DeploymentId(id), cancellationToken))!);
        return active;
    }

    private async Task<Deployment?> LoadAsync(NpgsqlConnection connection, DeploymentId id, CancellationToken cancellationToken)
    {
        PinnedMigration migration;
        string target, requester, channel;
        DeploymentState state;
        RunbookPhase? phase;
        string? voided;
        bool checksPass;
        await using (var command = new NpgsqlCommand("""
            SELECT migration, sql_name, sql_sha256, sql_bytes, rollback_name, rollback_sha256, rollback_bytes, runbook_name, runbook_sha256, runbook_bytes,
                   target, requester, channel, state, phase, voided_because, checks_pass
            FROM chatops_state.deployments WHERE id = $1
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id.Number });
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            if (!await r.ReadAsync(cancellationToken))
                return null;
            PinnedFile? File(int at) => r.IsDBNull(at) ? null : new PinnedFile(r.GetString(at), r.GetString(at + 1), r.GetFieldValue<byte[]>(at + 2));
            migration = new PinnedMigration(r.GetString(0), File(1)!, File(4), File(7));
            target = r.GetString(10);
            requester = r.GetString(11);
            channel = r.GetString(12);
            state = Enum.Parse<DeploymentState>(r.GetString(13));
            phase = r.IsDBNull(14) ? null : Enum.Parse<RunbookPhase>(r.GetString(14));
            voided = r.IsDBNull(15) ? null : r.GetString(15);
            checksPass = r.GetBoolean(16);
        }
        var signers = new List<KeyValuePair<string, DateTimeOffset>>();
        await using (var command = new NpgsqlCommand("SELECT user_id, signed_at FROM chatops_state.sign_offs WHERE deployment = $1 ORDER BY signed_at, user_id", connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id.Number });
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
                signers.Add(new(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1)));
        }
        var audit = new List<AuditEvent>();
        await using (var command = new NpgsqlCommand("SELECT at, who, what, counted FROM chatops_state.audit_events WHERE deployment = $1 ORDER BY seq", connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = id.Number });
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
                audit.Add(new AuditEvent(r.GetFieldValue<DateTimeOffset>(0), r.GetString(1), r.GetString(2), r.GetBoolean(3)));
        }
        return Deployment.Restore(id, migration, target, requester, channel, holders, policy, state, phase, voided, checksPass, signers, audit, Permissions);
    }

    private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        TargetSession.OpenAsync(connectionString, "chatops:state", cancellationToken);

    private static object Text(string? value) => value is null ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text } : value;

    private static object Bytes(byte[]? value) => value is null ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea } : value;

    private static async Task ExecAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
            command.Parameters.Add(p as NpgsqlParameter ?? new NpgsqlParameter { Value = p });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
