using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// A pinned file changed (or deleted) on disk before execution voids every sign-off, nothing runs, and the card says why — at a sign-off,
/// while nobody signs (the sign-off watch) and right before the run.
/// </summary>
public class PinnedFileTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    // DeploymentOwner's advisory lock on a deployment, ('CHDO', number): held here, no owner can start deployment 1.
    private static readonly string OwnerLock = $"{0x4348444F}, 1";

    private Task<long> TablesAsync(string name) => target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = $1", name);

    private Task<string> AuditAsync() =>
        state.ScalarAsync<string>("SELECT string_agg(who || ': ' || what, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");

    private Task<long> VoidsAsync() =>
        state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.audit_events WHERE deployment = 1 AND who = 'bot' AND what LIKE 'sign-offs void: %'");

    private Task<long> SignOffsAsync() => state.ScalarAsync<long>("SELECT count(*) FROM chatops_state.sign_offs WHERE deployment = 1");

    private static readonly TimeSpan Watch = TimeSpan.FromMilliseconds(100);

    private static string Short(string text)
    {
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
        return $"{sha256[..4]}…{sha256[^4..]}";
    }

    private Task<string> StateAsync() => state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1");

    /// <summary>
    /// Replaces the file's content at once, as an editor's save or a checkout does (written beside it, then renamed over it): the watch
    /// looks every 100 ms and must never hash a half-written file, whose bytes nobody meant.
    /// </summary>
    private static async Task ReplaceAsync(string path, string text)
    {
        var written = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllTextAsync(written, text);
        File.Move(written, path, overwrite: true);
    }

    [Fact]
    public async Task A_file_changed_between_the_third_and_fourth_sign_off_voids_them_all_and_signing_again_runs_the_pinned_bytes()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pf_late", "CREATE TABLE pf_late_a (id int);\n", rollback: "DROP TABLE IF EXISTS pf_late_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_late", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");

        await ReplaceAsync(Path.Combine(folder.Path, "pf_late.sql"), "CREATE TABLE pf_late_b (id int);\n");
        await bot.SayAsync("react pete ✅ D-1");
        await bot.SettleAsync();

        Assert.Equal("AwaitingApproval", await StateAsync());
        var card = (await bot.CardAsync(1))!;
        Assert.Equal("⏳ AWAITING SIGN-OFF (1/4) · sign-offs voided", card.Status);   // pete's sign-off came after the change
        Assert.StartsWith("pf_late.sql changed on disk after signing (sha256 now ", Assert.Single(card.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Equal(0L, await TablesAsync("pf_late_a"));
        Assert.Equal(0L, await TablesAsync("pf_late_b"));

        // Seen and signed again: the pinned bytes run, the change is not taken as new a second time.
        await bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");
        await bot.SettleAsync();

        Assert.Equal("Completed", await StateAsync());
        Assert.Equal(1L, await TablesAsync("pf_late_a"));
        Assert.Equal(0L, await TablesAsync("pf_late_b"));
        var audit = await AuditAsync();
        Assert.Single(audit.Split('\n'), l => l.StartsWith("bot: sign-offs void: pf_late.sql changed on disk", StringComparison.Ordinal));
        Assert.Contains("bot: execution started", audit);
    }

    [Fact]
    public async Task A_file_changed_after_approval_but_before_the_run_starts_voids_the_sign_offs_and_nothing_runs()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pf_gap", "CREATE TABLE pf_gap_a (id int);\n", rollback: "DROP TABLE IF EXISTS pf_gap_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_gap");

        await using (var holder = await state.OpenAsync("test:owner-lock"))
        {
            await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_lock({OwnerLock})", holder))
                await take.ExecuteNonQueryAsync();
            await bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
            Assert.Equal("Approved", await StateAsync());   // approved, and no owner could start it yet

            await ReplaceAsync(Path.Combine(folder.Path, "pf_gap.rollback.sql"), "DROP TABLE IF EXISTS pf_gap_a CASCADE;");
            await using var release = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_unlock({OwnerLock})", holder);
            await release.ExecuteNonQueryAsync();
        }
        await bot.SettleAsync();

        Assert.Equal("AwaitingApproval", await StateAsync());
        Assert.Contains("⚠️ D-1 did not start: pf_gap.rollback.sql changed on disk after signing (sha256 now ", bot.Transcript);
        var card = (await bot.CardAsync(1))!;
        Assert.Equal("⏳ AWAITING SIGN-OFF (0/4) · sign-offs voided", card.Status);
        Assert.StartsWith("pf_gap.rollback.sql changed on disk after signing", Assert.Single(card.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Equal(0L, await TablesAsync("pf_gap_a"));
        var audit = await AuditAsync();
        Assert.Contains("bot: sign-offs void: pf_gap.rollback.sql changed on disk", audit);
        Assert.DoesNotContain("execution started", audit);
    }

    [Fact]
    public async Task A_same_size_change_that_leaves_the_modification_time_as_it_was_is_noticed_at_the_next_sign_off()
    {
        // File systems keep the modification time coarsely: a same-size rewrite in the tick the file was last hashed in leaves size and time
        // as they were. A hash taken less than 2 s after the file's time is not kept — here the time stays ahead of every hash, as a clock
        // set ahead leaves it. The sign-offs look (the watch only every hour here): the second one finds the change.
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        const string a = "CREATE TABLE pf_tick_a (id int);\n", b = "CREATE TABLE pf_tick_b (id int);\n";
        Assert.Equal(a.Length, b.Length);
        using var folder = new MigrationFolder().With("pf_tick", a, rollback: "DROP TABLE IF EXISTS pf_tick_a;");
        var sql = Path.Combine(folder.Path, "pf_tick.sql");
        var written = DateTime.UtcNow.AddHours(1);
        File.SetLastWriteTimeUtc(sql, written);
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, signOffWatch: TimeSpan.FromHours(1));
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_tick", "react dan ✅ D-1");

        await ReplaceAsync(sql, b);
        File.SetLastWriteTimeUtc(sql, written);
        await bot.SayAsync("react sam ✅ D-1");
        await bot.SettleAsync();

        Assert.Equal(1L, await VoidsAsync());
        var card = (await bot.CardAsync(1))!;
        Assert.Equal("⏳ AWAITING SIGN-OFF (1/4) · sign-offs voided", card.Status);   // sam's sign-off came after the change
        Assert.Equal($"pf_tick.sql changed on disk after signing (sha256 now {Short(b)}): sign again",
            Assert.Single(card.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Equal("AwaitingApproval", await StateAsync());
    }

    [Fact]
    public async Task A_file_changed_while_nobody_signs_is_noticed_and_the_card_and_thread_say_why()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pf_idle", "CREATE TABLE pf_idle_a (id int);\n");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, signOffWatch: Watch);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_idle", "react dan ✅ D-1", "react sam ✅ D-1");

        const string changed = "CREATE TABLE pf_idle_b (id int, note text);\n";
        await ReplaceAsync(Path.Combine(folder.Path, "pf_idle.sql"), changed);
        // No reaction, no command: the watch notices.
        await Poll.UntilAsync(async () => (await bot.CardAsync(1))!.Status == "⏳ AWAITING SIGN-OFF (0/4) · sign-offs voided", "the card to say the sign-offs are void",
            lastSeen: async () => (await bot.CardAsync(1))!.Status ?? "");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        var why = $"pf_idle.sql changed on disk after signing (sha256 now {Short(changed)}): sign again";
        Assert.Equal(why, Assert.Single((await bot.CardAsync(1))!.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Contains($"⚠️ D-1: sign-offs void: {why}", bot.Transcript);
        Assert.Equal(1L, await VoidsAsync());
        Assert.Equal(0L, await SignOffsAsync());
        Assert.Equal("AwaitingApproval", await StateAsync());
    }

    [Fact]
    public async Task A_deleted_rollback_file_voids_the_sign_offs_and_signing_again_runs_and_rolls_back_the_pinned_bytes()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        using var folder = new MigrationFolder().With("pf_gone", "CREATE TABLE pf_gone_a (id int);\n", rollback: "DROP TABLE IF EXISTS pf_gone_a;");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, signOffWatch: Watch);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_gone", "react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1");

        File.Delete(Path.Combine(folder.Path, "pf_gone.rollback.sql"));
        await Poll.UntilAsync(async () => await VoidsAsync() == 1, "the deleted file to void the sign-offs");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        const string why = "pf_gone.rollback.sql is gone (deleted from the migrations directory after signing): sign again";
        Assert.Equal(why, Assert.Single((await bot.CardAsync(1))!.Fields, f => f.Label == "sign-offs voided").Value);
        Assert.Equal("⏳ AWAITING SIGN-OFF (0/4) · sign-offs voided", (await bot.CardAsync(1))!.Status);
        Assert.Contains($"⚠️ D-1: sign-offs void: {why}", bot.Transcript);
        Assert.Equal(0L, await SignOffsAsync());

        // Seen and signed again: the pinned migration runs, and its pinned rollback undoes it though the file is gone.
        await bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1", "react olga ✅ D-1", "react pete ✅ D-1");
        await bot.SettleAsync();
        Assert.Equal("Completed", await StateAsync());
        Assert.Equal(1L, await TablesAsync("pf_gone_a"));
        await bot.SayAsync("as dan", "/migrate rollback D-1 --confirm");
        await bot.SettleAsync();
        Assert.Equal("RolledBack", await StateAsync());
        Assert.Equal(0L, await TablesAsync("pf_gone_a"));
        Assert.Equal(1L, await VoidsAsync());
    }

    [Fact]
    public async Task A_change_after_signing_again_voids_again_and_so_does_a_file_changed_back_and_then_again()
    {
        await state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");
        const string a = "CREATE TABLE pf_flip_a (id int);\n", b = "CREATE TABLE pf_flip_bb (id int);\n", c = "CREATE TABLE pf_flip_ccc (id int);\n";
        using var folder = new MigrationFolder().With("pf_flip", a);
        var sql = Path.Combine(folder.Path, "pf_flip.sql");
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, signOffWatch: Watch);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start pf_flip", "react dan ✅ D-1");

        // A→B voids; people see it and sign again.
        await ReplaceAsync(sql, b);
        await Poll.UntilAsync(async () => await VoidsAsync() == 1, "A→B to void the sign-offs");
        await bot.SayAsync("react dan ✅ D-1", "react sam ✅ D-1");
        Assert.Equal(2L, await SignOffsAsync());

        // B→C is a new change: it voids again.
        await ReplaceAsync(sql, c);
        await Poll.UntilAsync(async () => await VoidsAsync() == 2, "B→C to void the sign-offs again");
        Assert.Equal(0L, await SignOffsAsync());
        await bot.SayAsync("react dan ✅ D-1");

        // Back to the pinned bytes: recorded, nothing voided; then B again is new again.
        await ReplaceAsync(sql, a);
        await Poll.UntilAsync(() => state.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM chatops_state.audit_events WHERE deployment = 1 AND what LIKE 'pf_flip.sql is back to its pinned bytes%')"),
            "the file back to its pinned bytes to be recorded");
        Assert.Equal(1L, await SignOffsAsync());
        await ReplaceAsync(sql, b);
        await Poll.UntilAsync(async () => await VoidsAsync() == 3, "B again to void the sign-offs again");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        Assert.Equal(0L, await SignOffsAsync());
        Assert.Equal($"pf_flip.sql changed on disk after signing (sha256 now {Short(b)}): sign again",
            Assert.Single((await bot.CardAsync(1))!.Fields, f => f.Label == "sign-offs voided").Value);
        var audit = await AuditAsync();
        Assert.Equal(2, audit.Split('\n').Count(l => l == $"bot: sign-offs void: pf_flip.sql changed on disk after signing (sha256 now {Short(b)}): sign again"));
        Assert.Single(audit.Split('\n'), l => l == $"bot: sign-offs void: pf_flip.sql changed on disk after signing (sha256 now {Short(c)}): sign again");
        Assert.Equal("AwaitingApproval", await StateAsync());
    }
}
