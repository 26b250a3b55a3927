using System.Text.RegularExpressions;
using ChatOps.Bot.Local;
using ChatOps.Core.Approvals;
using ChatOps.Core.Runbooks;
using ChatOps.Testing;

namespace ChatOps.Bot.Tests;

/// <summary>
/// Sign-offs expire after <c>ChatOps:Approvals:ValidFor</c> (24 hours by default), through the bot: the card and the thread say so by
/// themselves (the sign-off watch, nobody doing anything), once even with two replicas, and signing again counts.
/// </summary>
public class SignOffExpiryTests(PostgresDatabase target, EmptyPostgresDatabase state) : IClassFixture<PostgresDatabase>, IClassFixture<EmptyPostgresDatabase>
{
    private static readonly RoleHolders Holders = new(new Dictionary<SignOffRole, IReadOnlySet<string>>
    {
        [SignOffRole.DatabaseAdministrator] = new HashSet<string> { "dan" },
        [SignOffRole.SeniorBackendEngineer] = new HashSet<string> { "sam", "req" },
        [SignOffRole.DevOpsSreLead] = new HashSet<string> { "olga" },
        [SignOffRole.ProductOwner] = new HashSet<string> { "pete" },
    });

    private static readonly TimeSpan Watch = TimeSpan.FromMilliseconds(100);

    // Past the default ValidFor (24 h): every sign-off given before the jump has expired.
    private static readonly TimeSpan PastValidity = new SignOffPolicy().Validity + TimeSpan.FromMinutes(1);

    private Task ResetStateAsync() => state.ExecuteAsync("DROP SCHEMA IF EXISTS chatops_state CASCADE");

    private Task<string> AuditAsync() => state.ScalarAsync<string>(
        "SELECT string_agg(who || ': ' || what || CASE WHEN counted THEN '' ELSE ' (not counted)' END, E'\n' ORDER BY seq) FROM chatops_state.audit_events WHERE deployment = 1");

    private static int Count(string text, string part) => Regex.Count(text, Regex.Escape(part));

    [Fact]
    public async Task An_expired_sign_off_is_said_on_the_card_and_in_the_thread_by_itself_and_signing_again_counts_and_approves()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("ex_add", "CREATE TABLE ex_a (id int);\n", rollback: "DROP TABLE IF EXISTS ex_a;");
        var clock = new ShiftedClock();
        await using var bot = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, time: clock, signOffWatch: Watch);
        await bot.StartAsync();
        await bot.SayAsync("/migrate start ex_add", "react dan ✅ D-1", "as sam", "/migrate approve D-1");
        Assert.Equal("⏳ AWAITING SIGN-OFF (2/4)", (await bot.CardAsync(1))!.Status);

        // A day later, with nobody doing anything: the card no longer counts them, and the thread says whose role lapsed.
        clock.Advance(PastValidity);
        await Poll.UntilAsync(async () => (await bot.CardAsync(1))!.Status == "⏳ AWAITING SIGN-OFF (0/4)", "the card to stop counting the expired sign-offs",
            lastSeen: async () => (await bot.CardAsync(1))!.Status ?? "");
        await bot.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);
        Assert.Contains("⌛ D-1: dan's sign-off as Database Administrator (given ", bot.Transcript);
        Assert.Contains("⌛ D-1: sam's sign-off as Senior Backend Engineer (given ", bot.Transcript);
        Assert.Contains("(sign-offs are valid for 24h00m): Database Administrator signs again", bot.Transcript);
        var card = (await bot.CardAsync(1))!;
        Assert.All(card.Checklists.Single(c => c.Heading.StartsWith("Sign-off", StringComparison.Ordinal)).Lines,
            l => Assert.EndsWith("— nobody yet", l.Text, StringComparison.Ordinal));

        // A fresh ✅ and /migrate approve renew them (not "has signed already"); with olga and pete the deployment is approved and runs.
        await bot.SayAsync("react dan ✅ D-1", "/migrate approve D-1");
        Assert.Contains("D-1: sam signed again (their sign-off of ", bot.Transcript);
        Assert.Equal("⏳ AWAITING SIGN-OFF (2/4)", (await bot.CardAsync(1))!.Status);
        await bot.SayAsync("react olga ✅ D-1", "react pete ✅ D-1");
        await bot.SettleAsync();

        Assert.Equal("Completed", await state.ScalarAsync<string>("SELECT state FROM chatops_state.deployments WHERE id = 1"));
        Assert.Equal(1L, await target.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname = 'ex_a'"));
        var audit = await AuditAsync();
        Assert.Matches(@"dan: sign-off: dan signed again \(their sign-off of \d{4}-\d\d-\d\d \d\d:\d\dZ had expired\) \(Database Administrator\)\n", audit);
        Assert.DoesNotContain("signed already", audit);
        Assert.Equal(1, Count(audit, "bot: sign-off expired: dan's sign-off as Database Administrator"));
        Assert.Equal(1, Count(audit, "bot: sign-off expired: sam's sign-off as Senior Backend Engineer"));
        Assert.Contains("bot: approved (Database Administrator: dan, Senior Backend Engineer: sam, DevOps/SRE Lead: olga, Product Owner: pete)", audit);
    }

    [Fact]
    public async Task Two_replicas_looking_at_once_say_an_expired_sign_off_once()
    {
        await ResetStateAsync();
        using var folder = new MigrationFolder().With("ex_two", "CREATE TABLE ex_two (id int);\n");
        var clock = new ShiftedClock();
        var output = new StringWriter();
        var platform = new LocalChannel(output);
        await using var first = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output,
            time: clock, signOffWatch: Watch);
        await using var second = new LocalBot(state.ConnectionString, target.ConnectionString, folder.Path, Holders, channel: platform, output: output,
            time: clock, signOffWatch: Watch);
        await first.StartAsync();
        await second.StartAsync();
        await first.SayAsync("/migrate start ex_two", "react olga ✅ D-1");

        clock.Advance(PastValidity);
        // Both watches look on their own every 100 ms; a few more looks at once, from both replicas, on top.
        await Task.WhenAll(Enumerable.Range(0, 4).SelectMany(_ => new[]
            { first.Bot.SignOffs.LookAsync(CancellationToken.None), second.Bot.SignOffs.LookAsync(CancellationToken.None) }));
        await Poll.UntilAsync(() => Task.FromResult(output.ToString().Contains("⌛ D-1: olga's", StringComparison.Ordinal)), "the expiry in the thread");
        await first.Bot.SettleAsync(TimeSpan.FromMinutes(1), CancellationToken.None, runs: false);

        Assert.Equal(1, Count(output.ToString(), "⌛ D-1: olga's sign-off as DevOps/SRE Lead"));
        Assert.Equal(1, Count(await AuditAsync(), "bot: sign-off expired: olga's"));
    }
}
