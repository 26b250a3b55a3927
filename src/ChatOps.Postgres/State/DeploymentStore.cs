using ChatOps.Core.Approvals;
using ChatOps.Core.Conversation;
using ChatOps.Core.Deployments;
using ChatOps.Core.Runbooks;
using ChatOps.Core.Scheduling;
using Npgsql;

namespace ChatOps.Postgres.State;

/// <summary>
/// Deployments in the state database: each save writes the deployment's row, its current sign-offs and the audit lines not
/// yet stored, in one transaction; a load gives back the aggregate exactly as saved. The role lists and the sign-off policy
/// come from configuration, not from storage: they are passed in. Each sign-off keeps the roles its signer held when signing
/// (a group membership may change since); one stored before schema version 3, which has none, gets them from the role lists
/// as they are at load (user ids only: no group could sign before version 3).
/// </summary>
public sealed class DeploymentStore(StateConnections state, RoleHolders holders, SignOffPolicy policy, DeploymentPermissions? permissions = null)
{
    /// <summary>A store on its own pool (tests, and callers outside the bot's host).</summary>
    public DeploymentStore(string connectionString, RoleHolders holders, SignOffPolicy policy, DeploymentPermissions? permissions = null)
        : this(new StateConnections(connectionString), holders, policy, permissions)
    {
    }

    /// <summary>The state database this store keeps deployments in.</summary>
    public StateConnections State => state;

    /// <summary>Begins a transaction for one change: load (locked), change, save, and the messages it causes.</summary>
    public Task<StateScope> BeginAsync(CancellationToken cancellationToken) => StateScope.BeginAsync(state, cancellationToken);

    /// <summary>The sign-off rules deployments are judged by (configuration, not storage).</summary>
    public SignOffPolicy Policy => policy;

    /// <summary>Who may control deployments (configuration, not storage).</summary>
    public DeploymentPermissions Permissions { get; } = permissions ?? new DeploymentPermissions(holders);

    /// <summary>Each migration's latest deployment here: its id and state.</summary>
    public async Task<IReadOnlyDictionary<string, (DeploymentId Id, DeploymentState State)>> LatestByMigrationAsync(CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
        await using var command = new NpgsqlCommand(
            "SELECT DISTINCT ON (migration) migration, id, state FROM chatops_state.deployments ORDER BY migration, id DESC", connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var latest = new Dictionary<string, (DeploymentId, DeploymentState)>();
        while (await r.ReadAsync(cancellationToken))
            latest[r.GetString(0)] = (new DeploymentId(r.GetInt32(1)), Enum.Parse<DeploymentState>(r.GetString(2)));
        return latest;
    }

    /// <summary>The next deployment number (D-1, D-2 …), never reused.</summary>
    public async Task<DeploymentId> NextIdAsync(CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
        await using var command = new NpgsqlCommand("SELECT nextval('chatops_state.deployment_numbers')::int", connection);
        return new DeploymentId((int)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    public async Task SaveAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        await using var scope = await BeginAsync(cancellationToken);
        await SaveAsync(scope, deployment, cancellationToken);
        await scope.CommitAsync(cancellationToken);
    }

    /// <summary>Writes the deployment's row, its current sign-offs and the audit lines not yet stored, in <paramref name="scope"/>.</summary>
    public async Task SaveAsync(StateScope scope, Deployment deployment, CancellationToken cancellationToken)
    {
        var connection = scope.Connection;
        var m = deployment.Migration;
        // What this scope stored of this very instance already (loaded or saved in it): only what changed since is written.
        var held = scope.Seen.TryGetValue(new HeldKey(deployment.Id.Number), out var seen) && seen is Held h && ReferenceEquals(h.Deployment, deployment) ? h : null;
        var row = StoredRow.Of(deployment);
        if (held is null || held.Row != row)
            await ExecAsync(connection, """
            INSERT INTO chatops_state.deployments (id, migration, sql_name, sql_sha256, sql_bytes, rollback_name, rollback_sha256, rollback_bytes,
                runbook_name, runbook_sha256, runbook_bytes, target, requester, channel, state, phase, voided_because, checks_pass, platform,
                window_start, window_end, window_zone, window_opened)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, phase = excluded.phase, voided_because = excluded.voided_because,
                checks_pass = excluded.checks_pass, window_start = excluded.window_start, window_end = excluded.window_end,
                window_zone = excluded.window_zone, window_opened = excluded.window_opened, updated_at = now()
            """, cancellationToken,
            deployment.Id.Number, m.Id, m.Sql.Name, m.Sql.Sha256, m.Sql.Bytes,
            StateSql.Text(m.Rollback?.Name), StateSql.Text(m.Rollback?.Sha256), StateSql.Bytes(m.Rollback?.Bytes),
            StateSql.Text(m.Runbook?.Name), StateSql.Text(m.Runbook?.Sha256), StateSql.Bytes(m.Runbook?.Bytes),
            deployment.Target, deployment.Requester, deployment.Channel, deployment.State.ToString(), StateSql.Text(deployment.Phase?.ToString()),
            StateSql.Text(deployment.VoidedBecause), deployment.ChecksPass, deployment.Platform,
            StateSql.Timestamp(deployment.Window?.Start.ToUniversalTime()),
            StateSql.Timestamp(deployment.Window?.End.ToUniversalTime()), StateSql.Text(deployment.Window?.TimeZone), deployment.WindowOpened);

        if (held is null || !SameSigners(held.Signers, deployment.SignOffs.Signers))
        {
            await ExecAsync(connection, "DELETE FROM chatops_state.sign_offs WHERE deployment = $1", cancellationToken, deployment.Id.Number);
            foreach (var (user, signed) in deployment.SignOffs.Signers)
                await ExecAsync(connection, "INSERT INTO chatops_state.sign_offs (deployment, user_id, signed_at, roles, given_by) VALUES ($1, $2, $3, $4, $5)",
                    cancellationToken, deployment.Id.Number, user, signed.At, signed.Roles.Select(r => r.ToString()).ToArray(),
                    StateSql.Text(signed.GivenBy == SignOffGivenBy.Unknown ? null : signed.GivenBy.ToString()));
        }

        // The audit trail is append-only: only lines past those stored are written.
        var stored = held?.AuditStored ?? await AuditCountAsync(connection, deployment.Id, cancellationToken);
        for (var seq = stored; seq < deployment.Audit.Count; seq++)
        {
            var a = deployment.Audit[seq];
            await ExecAsync(connection, "INSERT INTO chatops_state.audit_events (deployment, seq, at, who, what, counted) VALUES ($1, $2, $3, $4, $5, $6)",
                cancellationToken, deployment.Id.Number, seq, a.At, a.Who, a.What, a.Counted);
        }
        scope.Seen[new HeldKey(deployment.Id.Number)] = Held.AsStored(deployment);
    }

    private static async Task<int> AuditCountAsync(NpgsqlConnection connection, DeploymentId id, CancellationToken cancellationToken)
    {
        await using var count = StateSql.Command(connection, "SELECT count(*)::int FROM chatops_state.audit_events WHERE deployment = $1", id.Number);
        return (int)(await count.ExecuteScalarAsync(cancellationToken))!;
    }

    private static bool SameSigners(IReadOnlyDictionary<string, SignOffRecord> stored, IReadOnlyDictionary<string, SignOffRecord> now) =>
        stored.Count == now.Count && now.All(s => stored.TryGetValue(s.Key, out var was) && was.At == s.Value.At && was.GivenBy == s.Value.GivenBy && was.Roles.SequenceEqual(s.Value.Roles));

    // A deployment a scope locked or saved: the scope's one instance of it, and what of it the database holds in that transaction.
    private readonly record struct HeldKey(int Deployment);

    // The columns SaveAsync updates.
    private sealed record StoredRow(DeploymentState State, RunbookPhase? Phase, string? VoidedBecause, bool ChecksPass, ScheduledWindow? Window, bool WindowOpened)
    {
        public static StoredRow Of(Deployment d) => new(d.State, d.Phase, d.VoidedBecause, d.ChecksPass, d.Window, d.WindowOpened);
    }

    private sealed record Held(Deployment Deployment, StoredRow Row, IReadOnlyDictionary<string, SignOffRecord> Signers, int AuditStored)
    {
        public static Held AsStored(Deployment d) => new(d, StoredRow.Of(d), new Dictionary<string, SignOffRecord>(d.SignOffs.Signers), d.Audit.Count);

        /// <summary>Changed in memory since it was stored: the scope's copy no longer says what the database holds.</summary>
        public bool Unsaved => Row != StoredRow.Of(Deployment) || !SameSigners(Signers, Deployment.SignOffs.Signers) || AuditStored != Deployment.Audit.Count;
    }

    /// <summary>Where the deployment's card was posted, and the pre-deployment checks it shows (kept as JSON).</summary>
    public async Task SetCardAsync(DeploymentId id, string? cardMessage, IReadOnlyList<CheckResult> checks, CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
        await ExecAsync(connection, "UPDATE chatops_state.deployments SET card_message = $2, checks = $3::jsonb, updated_at = now() WHERE id = $1",
            cancellationToken, id.Number, StateSql.Text(cardMessage), System.Text.Json.JsonSerializer.Serialize(checks));
        scope?.Seen.Remove(new CardKey(id.Number));
    }

    /// <summary>The card's message id and checks, as <see cref="SetCardAsync"/> left them.</summary>
    public async Task<(string? CardMessage, IReadOnlyList<CheckResult> Checks)> CardAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope = null)
    {
        if (scope is not null && scope.Seen.TryGetValue(new CardKey(id.Number), out var seen))
            return ((string?, IReadOnlyList<CheckResult>))seen;
        var card = await ReadCardAsync(id, cancellationToken, scope);
        scope?.Seen[new CardKey(id.Number)] = card;
        return card;
    }

    private readonly record struct CardKey(int Deployment);

    private async Task<(string? CardMessage, IReadOnlyList<CheckResult> Checks)> ReadCardAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
        await using var command = StateSql.Command(connection, "SELECT card_message, checks::text FROM chatops_state.deployments WHERE id = $1", id.Number);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        if (!await r.ReadAsync(cancellationToken))
            return (null, []);
        var checks = r.IsDBNull(1) ? [] : System.Text.Json.JsonSerializer.Deserialize<List<CheckResult>>(r.GetString(1)) ?? [];
        return (r.IsDBNull(0) ? null : r.GetString(0), checks);
    }

    /// <summary>The cards a reaction can still act on (a completed or failed deployment can be rolled back), by deployment.</summary>
    public async Task<IReadOnlyList<(DeploymentId Id, MessageReference Card)>> ActiveCardsAsync(CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
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
    public async Task<DeploymentId?> ByCardAsync(string cardMessage, CancellationToken cancellationToken, StateScope? scope = null)
    {
        // A card belongs to its deployment for good: every reaction on it asks the same question.
        if (_cards.TryGet(cardMessage, out var known))
            return new DeploymentId(known);
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
        await using var command = StateSql.Command(connection, "SELECT id FROM chatops_state.deployments WHERE card_message = $1", cardMessage);
        if (await command.ExecuteScalarAsync(cancellationToken) is not int id)
            return null;
        // Kept once committed (a card written in a transaction that rolls back belongs to nobody).
        if (scope is null)
            _cards.Keep(cardMessage, id);
        else
            scope.Committed += () => _cards.Keep(cardMessage, id);
        return new DeploymentId(id);
    }

    private readonly ChatOps.Core.Caching.BoundedCache<string, int> _cards = new(10_000);

    /// <summary>The rollback prompt awaiting ⏪ (its message key, and when it lapses), kept across restarts and replicas.</summary>
    /// <param name="rollsBackWhenLapsed">A rollback trigger's prompt: when nobody answers by <paramref name="until"/>, the bot rolls back itself.</param>
    public Task SetRollbackPromptAsync(StateScope scope, DeploymentId id, string? promptKey, DateTimeOffset? until, CancellationToken cancellationToken,
        bool rollsBackWhenLapsed = false) =>
        scope.ExecuteAsync("UPDATE chatops_state.deployments SET rollback_prompt = $2, rollback_prompt_until = $3, rollback_prompt_rolls_back = $4 WHERE id = $1",
            cancellationToken, id.Number, StateSql.Text(promptKey), StateSql.Timestamp(until), rollsBackWhenLapsed);

    /// <summary>Deployments whose rollback-trigger prompt lapsed unanswered at <paramref name="now"/>: the bot rolls them back.</summary>
    public async Task<IReadOnlyList<DeploymentId>> LapsedRollbackPromptsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var command = StateSql.Command(connection,
            "SELECT id FROM chatops_state.deployments WHERE rollback_prompt IS NOT NULL AND rollback_prompt_rolls_back AND rollback_prompt_until <= $1 ORDER BY id",
            StateSql.Timestamp(now));
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<DeploymentId>();
        while (await r.ReadAsync(cancellationToken))
            ids.Add(new DeploymentId(r.GetInt32(0)));
        return ids;
    }

    /// <summary>Whether the pending rollback prompt is a trigger's, which the bot answers itself when it lapses.</summary>
    public async Task<bool> RollbackPromptRollsBackAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        await using var command = StateSql.Command(lease.Connection,
            "SELECT rollback_prompt_rolls_back FROM chatops_state.deployments WHERE id = $1 AND rollback_prompt IS NOT NULL", id.Number);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>What monitoring has seen of the deployment (JSON), kept so the status posts and the report read it on any replica.</summary>
    public Task SetMonitoringAsync(DeploymentId id, string json, CancellationToken cancellationToken) =>
        state.ExecuteAsync("UPDATE chatops_state.deployments SET monitoring = $2::jsonb WHERE id = $1", cancellationToken, id.Number, json);

    public Task<string?> MonitoringAsync(DeploymentId id, CancellationToken cancellationToken) =>
        state.ScalarAsync<string>("SELECT monitoring::text FROM chatops_state.deployments WHERE id = $1", cancellationToken, id.Number);

    /// <summary>When post-deployment monitoring ends (set when the verdict passes).</summary>
    public Task SetMonitoringUntilAsync(StateScope scope, DeploymentId id, DateTimeOffset? until, CancellationToken cancellationToken) =>
        scope.ExecuteAsync("UPDATE chatops_state.deployments SET monitoring_until = $2 WHERE id = $1", cancellationToken, id.Number, StateSql.Timestamp(until));

    public Task<DateTimeOffset?> MonitoringUntilAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope = null) =>
        TimestampAsync("SELECT monitoring_until FROM chatops_state.deployments WHERE id = $1", id, cancellationToken, scope);

    /// <summary>When the last status was posted: a replica taking over keeps the cadence rather than posting again at once.</summary>
    public Task SetStatusPostedAsync(StateScope scope, DeploymentId id, DateTimeOffset at, CancellationToken cancellationToken) =>
        scope.ExecuteAsync("UPDATE chatops_state.deployments SET status_posted_at = $2 WHERE id = $1", cancellationToken, id.Number, StateSql.Timestamp(at));

    public Task<DateTimeOffset?> StatusPostedAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope = null) =>
        TimestampAsync("SELECT status_posted_at FROM chatops_state.deployments WHERE id = $1", id, cancellationToken, scope);

    /// <summary>The deployment whose rollback prompt is <paramref name="promptKey"/>, and when the prompt lapses.</summary>
    public async Task<(DeploymentId Id, DateTimeOffset Until)?> ByRollbackPromptAsync(string promptKey, CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        await using var command = StateSql.Command(lease.Connection, "SELECT id, rollback_prompt_until FROM chatops_state.deployments WHERE rollback_prompt = $1", promptKey);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? (new DeploymentId(r.GetInt32(0)), r.GetFieldValue<DateTimeOffset>(1)) : null;
    }

    /// <summary>When the deployment's pending rollback prompt lapses; null when none is pending.</summary>
    public Task<DateTimeOffset?> RollbackPromptUntilAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope = null) =>
        TimestampAsync("SELECT rollback_prompt_until FROM chatops_state.deployments WHERE id = $1 AND rollback_prompt IS NOT NULL", id, cancellationToken, scope);

    /// <summary>One deployment's timestamp column (NULL, or no such row: null).</summary>
    private async Task<DateTimeOffset?> TimestampAsync(string sql, DeploymentId id, CancellationToken cancellationToken, StateScope? scope)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        await using var command = StateSql.Command(lease.Connection, sql, id.Number);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime at ? new DateTimeOffset(at, TimeSpan.Zero) : null;
    }

    /// <summary>What a resumed run needs from the phases before (the runbook's checkpoint, as JSON).</summary>
    public Task SetCheckpointAsync(DeploymentId id, string checkpointJson, CancellationToken cancellationToken) =>
        state.ExecuteAsync("UPDATE chatops_state.deployments SET checkpoint = $2::jsonb, updated_at = now() WHERE id = $1", cancellationToken, id.Number, checkpointJson);

    public Task<string?> CheckpointAsync(DeploymentId id, CancellationToken cancellationToken) =>
        state.ScalarAsync<string>("SELECT checkpoint::text FROM chatops_state.deployments WHERE id = $1", cancellationToken, id.Number);

    /// <summary>What the database holds of the deployment's migration, in words (after an abort or an interruption): the card shows it.</summary>
    public async Task SetDatabaseStateAsync(StateScope scope, DeploymentId id, string? description, CancellationToken cancellationToken)
    {
        await scope.ExecuteAsync("UPDATE chatops_state.deployments SET database_state = $2 WHERE id = $1", cancellationToken, id.Number, StateSql.Text(description));
        scope.Seen[new DatabaseStateKey(id.Number)] = new DatabaseState(description);
    }

    public async Task<string?> DatabaseStateAsync(DeploymentId id, CancellationToken cancellationToken, StateScope? scope = null)
    {
        if (scope is not null && scope.Seen.TryGetValue(new DatabaseStateKey(id.Number), out var seen))
            return ((DatabaseState)seen).Description;
        await using var lease = await LeaseAsync(scope, cancellationToken);
        await using var command = StateSql.Command(lease.Connection, "SELECT database_state FROM chatops_state.deployments WHERE id = $1", id.Number);
        var description = await command.ExecuteScalarAsync(cancellationToken) as string;
        scope?.Seen[new DatabaseStateKey(id.Number)] = new DatabaseState(description);
        return description;
    }

    private readonly record struct DatabaseStateKey(int Deployment);

    private sealed record DatabaseState(string? Description);

    /// <summary>
    /// Deployments some replica has to work on: approved (to start; one scheduled into a maintenance window only once the window
    /// opened for it), running or paused (to run or recover), rolling back.
    /// </summary>
    public async Task<IReadOnlyList<DeploymentId>> UnfinishedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"SELECT id FROM chatops_state.deployments WHERE state IN ('Approved', 'Running', 'Paused', 'Monitoring', 'RollingBack') AND NOT {WaitingForWindow} ORDER BY id", connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<DeploymentId>();
        while (await r.ReadAsync(cancellationToken))
            ids.Add(new DeploymentId(r.GetInt32(0)));
        return ids;
    }

    /// <summary>
    /// Deployments still taking sign-offs: awaiting approval, or approved and not started (execution starting moves it on). What can
    /// change there without anyone doing anything — a sign-off expiring, a pinned file on disk — is looked at for these.
    /// </summary>
    public async Task<IReadOnlyList<DeploymentId>> SigningAsync(CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT id FROM chatops_state.deployments WHERE state IN ('AwaitingApproval', 'Approved') ORDER BY id", connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<DeploymentId>();
        while (await r.ReadAsync(cancellationToken))
            ids.Add(new DeploymentId(r.GetInt32(0)));
        return ids;
    }

    // Approved, scheduled into a window that has not opened for it: not to be started yet.
    private const string WaitingForWindow = "(state = 'Approved' AND window_start IS NOT NULL AND NOT window_opened)";

    /// <summary>
    /// Whether any deployment is work going on or about to start: approved (and not waiting for its window), running or rolling
    /// back. A deployment waiting for a person — or for its maintenance window — is not.
    /// </summary>
    public async Task<bool> AnyOwnerWorkAsync(CancellationToken cancellationToken) =>
        await state.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM chatops_state.deployments WHERE state IN ('Approved', 'Running', 'Monitoring', 'RollingBack') AND NOT {WaitingForWindow})",
            cancellationToken);

    /// <summary>How many deployments are in each state (for <c>/metrics</c>).</summary>
    public async Task<IReadOnlyDictionary<DeploymentState, long>> CountByStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT state, count(*) FROM chatops_state.deployments GROUP BY state", connection);
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        var counts = Enum.GetValues<DeploymentState>().ToDictionary(s => s, _ => 0L);
        while (await r.ReadAsync(cancellationToken))
            counts[Enum.Parse<DeploymentState>(r.GetString(0))] = r.GetInt64(1);
        return counts;
    }

    /// <summary>The deployment, or null when there is no such one.</summary>
    public async Task<Deployment?> LoadAsync(DeploymentId id, CancellationToken cancellationToken)
    {
        await using var connection = await state.OpenAsync(cancellationToken);
        return await LoadAsync(connection, id, cancellationToken);
    }

    /// <summary>The deployment, locked in <paramref name="scope"/> until it commits (another replica's change waits); null when there is none.</summary>
    /// <remarks>Within one scope the same instance comes back each time (a batch of events reads it once), unless it was changed and not
    /// saved since: then it is read again, as the database holds it.</remarks>
    public async Task<Deployment?> LoadForUpdateAsync(StateScope scope, DeploymentId id, CancellationToken cancellationToken)
    {
        if (scope.Seen.TryGetValue(new HeldKey(id.Number), out var seen) && seen is Held { Unsaved: false } held)
            return held.Deployment;
        var deployment = await LoadAsync(scope.Connection, id, cancellationToken, forUpdate: true);
        if (deployment is not null)
            scope.Seen[new HeldKey(id.Number)] = Held.AsStored(deployment);
        return deployment;
    }

    /// <summary>The channel's deployments that are not finished, oldest first.</summary>
    public async Task<IReadOnlyList<Deployment>> ActiveInAsync(string channel, CancellationToken cancellationToken, StateScope? scope = null)
    {
        await using var lease = await LeaseAsync(scope, cancellationToken);
        var connection = lease.Connection;
        var ids = new List<int>();
        await using (var command = StateSql.Command(connection, """
            SELECT id FROM chatops_state.deployments
            WHERE channel = $1 AND state NOT IN ('Completed', 'RolledBack', 'RollbackFailed', 'Aborted') ORDER BY id
            """, channel))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                ids.Add(reader.GetInt32(0));
        }
        var active = new List<Deployment>();
        foreach (var id in ids)
            active.Add((await LoadAsync(connection, new DeploymentId(id), cancellationToken))!);
        return active;
    }

    private async Task<Deployment?> LoadAsync(NpgsqlConnection connection, DeploymentId id, CancellationToken cancellationToken, bool forUpdate = false)
    {
        PinnedMigration migration;
        string target, requester, channel;
        DeploymentState state;
        RunbookPhase? phase;
        string? voided;
        bool checksPass;
        string platform;
        ScheduledWindow? window;
        bool windowOpened;
        await using (var command = StateSql.Command(connection, """
            SELECT migration, sql_name, sql_sha256, sql_bytes, rollback_name, rollback_sha256, rollback_bytes, runbook_name, runbook_sha256, runbook_bytes,
                   target, requester, channel, state, phase, voided_because, checks_pass, platform, window_start, window_end, window_zone, window_opened
            FROM chatops_state.deployments WHERE id = $1
            """ + (forUpdate ? " FOR UPDATE" : ""), id.Number))
        {
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
            platform = r.GetString(17);
            window = r.IsDBNull(18) ? null : new ScheduledWindow(r.GetFieldValue<DateTimeOffset>(18), r.GetFieldValue<DateTimeOffset>(19), r.GetString(20));
            windowOpened = r.GetBoolean(21);
        }
        var signers = new List<KeyValuePair<string, SignOffRecord>>();
        await using (var command = StateSql.Command(connection,
            "SELECT user_id, signed_at, roles, given_by FROM chatops_state.sign_offs WHERE deployment = $1 ORDER BY signed_at, user_id", id.Number))
        {
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                var user = r.GetString(0);
                // NULL: signed before schema version 3, when every role entry was a user id — the lists say which roles.
                var roles = r.IsDBNull(2) ? holders.RolesOf(user, []) : r.GetFieldValue<string[]>(2).Select(Enum.Parse<SignOffRole>).ToList();
                // NULL: signed before schema version 7, by a reaction or by approve — unknown, never revoked for a missing reaction.
                var givenBy = r.IsDBNull(3) ? SignOffGivenBy.Unknown : Enum.Parse<SignOffGivenBy>(r.GetString(3));
                signers.Add(new(user, new SignOffRecord(r.GetFieldValue<DateTimeOffset>(1), roles, givenBy)));
            }
        }
        var audit = new List<AuditEvent>();
        await using (var command = StateSql.Command(connection, "SELECT at, who, what, counted FROM chatops_state.audit_events WHERE deployment = $1 ORDER BY seq", id.Number))
        {
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
                audit.Add(new AuditEvent(r.GetFieldValue<DateTimeOffset>(0), r.GetString(1), r.GetString(2), r.GetBoolean(3)));
        }
        return Deployment.Restore(id, migration, target, requester, channel, holders, policy, state, phase, voided, checksPass, signers, audit, Permissions, platform,
            window, windowOpened);
    }

    // A scope's session (inside its transaction), or a pooled one of the call's own.
    private sealed class Lease(NpgsqlConnection connection, bool own) : IAsyncDisposable
    {
        public NpgsqlConnection Connection => connection;
        public ValueTask DisposeAsync() => own ? connection.DisposeAsync() : ValueTask.CompletedTask;
    }

    private async Task<Lease> LeaseAsync(StateScope? scope, CancellationToken cancellationToken) =>
        scope is null ? new Lease(await state.OpenAsync(cancellationToken), true) : new Lease(scope.Connection, false);

    private static Task ExecAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters) =>
        StateSql.ExecuteAsync(connection, sql, cancellationToken, parameters);
}
