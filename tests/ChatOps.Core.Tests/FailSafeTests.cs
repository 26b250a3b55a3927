using ChatOps.Core.Planning;
using ChatOps.Core.Scripts;

namespace ChatOps.Core.Tests;

/// <summary>Statements whose lock cannot be read from the text fail safe; data-modifying CTEs take their DML's locks.</summary>
public class FailSafeTests
{
    private static readonly DbObjectName Contacts = new("public", "contacts");

    private static readonly CatalogFacts ContactsExist = new()
    {
        Visible = new Dictionary<string, DbObjectName> { ["contacts"] = Contacts },
        Relations = new HashSet<DbObjectName> { Contacts },
    };

    private static IReadOnlyList<StatementAnalysis> Plan(string sql, CatalogFacts? facts = null) =>
        StatementAnalyzer.AnalyzeScript(SqlScript.Parse(sql), facts);

    [Theory]
    // Risky: SQL built at run time — a placeholder for the table, a variable, a concatenation, a function it calls.
    [InlineData("DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN c int', 'contacts'); END $$", true)]
    [InlineData("DO $$ DECLARE stmt text := 'ALTER TABLE contacts ADD COLUMN c int'; BEGIN EXECUTE stmt; END $$", true)]
    [InlineData("DO $$ DECLARE col text := 'c'; BEGIN EXECUTE 'ALTER TABLE contacts ADD COLUMN ' || col || ' int'; END $$", true)]
    [InlineData("DO $$ BEGIN PERFORM my_backfill(); END $$", true)]
    // Safe: the SQL is in the text — written out, a literal EXECUTE, a template whose placeholder is no relation.
    [InlineData("DO $$ BEGIN ALTER TABLE contacts ADD COLUMN c int; END $$", false)]
    [InlineData("DO $$ BEGIN EXECUTE 'ALTER TABLE contacts ADD COLUMN c int'; END $$", false)]
    [InlineData("DO $$ BEGIN EXECUTE format('ALTER TABLE contacts ADD COLUMN %I int', 'c'); END $$", false)]
    [InlineData("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'x') THEN ALTER TABLE contacts ADD COLUMN c int; END IF; END $$", false)]
    public void A_do_block_running_sql_built_at_run_time_fails_safe(string sql, bool unknown)
    {
        foreach (var analysis in new[] { Plan(sql)[0], Plan(sql, ContactsExist)[0] })
        {
            Assert.Equal(unknown, analysis.LockUnknown);
            Assert.Equal(unknown, analysis.Warnings.Any(w => w.Rule == "unknown-lock"));
            if (!unknown)
                Assert.Equal(LockMode.AccessExclusive, Assert.Single(analysis.Locks).Mode);
        }
        if (unknown && !sql.Contains("my_backfill"))
        {
            // With the catalog, any string naming a relation that exists is covered: ACCESS EXCLUSIVE on it, nothing else.
            Assert.Equal([new TableLock(new(null, "contacts"), LockMode.AccessExclusive)], Plan(sql, ContactsExist)[0].Locks);
        }
    }

    [Fact]
    public void Without_the_catalog_the_fail_safe_names_relations_where_sql_puts_them_and_never_the_system_catalogs()
    {
        var analysis = Plan("""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.contacts'::regclass AND attname = 'c') THEN
                    EXECUTE 'ALTER TABLE public.contacts ' || 'DROP COLUMN c';
                END IF;
            END $$
            """)[0];

        Assert.True(analysis.LockUnknown);
        Assert.Equal([new TableLock(Contacts, LockMode.AccessExclusive)], analysis.Locks);
    }

    [Theory]
    [InlineData("SELECT my_backfill()", true)]
    [InlineData("SELECT * FROM app.backfill_contacts(1000)", true)]
    [InlineData("SELECT count(*), max(id) FROM contacts", false)]
    [InlineData("SELECT set_config('statement_timeout', '5s', false)", false)]
    [InlineData("SELECT pg_catalog.now(), nextval('contacts_id_seq')", false)]
    [InlineData("WITH recent AS (SELECT id FROM contacts WHERE id > 10) SELECT count(*) FROM recent", false)]
    public void A_select_calling_a_function_that_is_no_known_built_in_has_an_unknown_lock(string sql, bool unknown)
    {
        var analysis = Plan(sql)[0];

        Assert.Equal(unknown, analysis.LockUnknown);
        Assert.Equal(unknown, analysis.Warnings.Any(w => w.Rule == "unknown-lock" && w.Message.Contains("not a built-in")));
        Assert.DoesNotContain(analysis.Locks, l => l.Table.Name is "my_backfill" or "backfill_contacts" or "recent");
    }

    [Fact]
    public void A_select_calling_a_user_function_on_a_named_table_is_access_exclusive_on_it()
    {
        var analysis = Plan("SELECT archive_row(c) FROM contacts c WHERE id < 10")[0];

        Assert.True(analysis.LockUnknown);
        Assert.Equal([new TableLock(new(null, "contacts"), LockMode.AccessExclusive)], analysis.Locks);
    }

    [Fact]
    public void A_data_modifying_cte_takes_its_dml_locks()
    {
        var plan = Plan("""
            WITH moved AS (UPDATE contacts SET name = lower(name) WHERE id < 100 RETURNING id) SELECT count(*) FROM moved;
            WITH gone AS (DELETE FROM contacts WHERE id < 100 RETURNING id) INSERT INTO archived (id) SELECT id FROM gone;
            WITH everything AS (DELETE FROM contacts RETURNING *) SELECT count(*) FROM everything;
            """);

        Assert.Equal([new TableLock(new(null, "contacts"), LockMode.RowExclusive)], plan[0].Locks);
        Assert.Equal("WITH UPDATE", plan[0].Kind);
        Assert.False(plan[0].LockUnknown);
        Assert.Equal([new TableLock(new(null, "contacts"), LockMode.RowExclusive), new TableLock(new(null, "archived"), LockMode.RowExclusive)], plan[1].Locks);
        Assert.Contains(plan[2].Warnings, w => w.Rule == "unbatched-dml");
        Assert.DoesNotContain(plan[0].Warnings, w => w.Rule == "unbatched-dml");
        Assert.True(new MigrationPlan("m", "", plan).CanRemoveRowsFrom(Contacts));
        Assert.False(new MigrationPlan("m", "", [plan[0]]).CanRemoveRowsFrom(Contacts));
    }
}
