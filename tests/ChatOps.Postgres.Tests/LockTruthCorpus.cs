namespace ChatOps.Postgres.Tests;

/// <summary>
/// One statement form whose locks the server is asked about (see <see cref="LockTruthTests"/>).
/// Each case runs in its own schema <c>lt_&lt;id&gt;</c>, which is the session's <c>search_path</c>: setups
/// and statements name their objects without a schema.
/// </summary>
/// <param name="Id">Unique, lower case, a valid identifier part (it names the case's schema).</param>
/// <param name="Setup">Run and committed first, statement by statement.</param>
/// <param name="Sql">The statement under test; a script (<c>BEGIN; …; COMMIT;</c>) is run statement by statement
/// inside the harness's own transaction, and the analyzer's claims for its statements are combined.</param>
/// <param name="NoTx">Set for a statement that cannot run in a transaction block: what a second session runs in an
/// open transaction first, so that the statement waits for it and its locks can be read from a third session
/// (the locks it holds at that moment and the one it waits for; a later phase is not seen).</param>
public sealed record LockCase(string Id, string Setup, string Sql, string? NoTx = null)
{
    public bool InTransaction => NoTx is null;

    public string Schema => "lt_" + Id;
}

/// <summary>The statement forms a migration may contain, each with a throwaway setup.</summary>
public static class LockTruthCorpus
{
    // t: 1,000 rows, a primary key and an index on v; columns for every type change below.
    private const string T = """
        CREATE TABLE t (id int PRIMARY KEY, a int, v varchar(100), n numeric(10,2), s text, r int4range);
        INSERT INTO t SELECT g, g, 'v' || g, g, 's' || g, int4range(g, g + 1) FROM generate_series(1, 1000) g;
        CREATE INDEX t_v_idx ON t (v);
        """;

    // o: what t's foreign keys reference.
    private const string O = """
        CREATE TABLE o (id int PRIMARY KEY);
        INSERT INTO o SELECT generate_series(1, 1000);
        """;

    // t without a primary key.
    private const string NoPk = """
        CREATE TABLE t (id int NOT NULL, a int);
        INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
        """;

    // p: range-partitioned by id, partition p1 holds 0–99; p2 (100–199) is a plain table, not attached.
    private const string P = """
        CREATE TABLE p (id int, k int) PARTITION BY RANGE (id);
        CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
        CREATE TABLE p2 (id int, k int);
        INSERT INTO p SELECT g, g FROM generate_series(0, 99) g;
        INSERT INTO p2 SELECT g, g FROM generate_series(100, 199) g;
        """;

    private const string Trigger = """
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();
        """;

    private const string Fk = O + "ALTER TABLE t ADD CONSTRAINT t_a_fk FOREIGN KEY (a) REFERENCES o (id);";
    private const string Check = "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0);";
    private const string Mv = "CREATE MATERIALIZED VIEW tm AS SELECT id, a FROM t; CREATE UNIQUE INDEX tm_id ON tm (id);";
    private const string Policy = "CREATE POLICY t_read ON t FOR SELECT USING (a > 0);";

    public static readonly IReadOnlyList<LockCase> Cases =
    [
        // ── ALTER TABLE … ADD COLUMN ──
        new("add_column_nullable", T, "ALTER TABLE t ADD COLUMN c int"),
        new("add_column_default_const", T, "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0"),
        new("add_column_default_now", T, "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()"),
        new("add_column_default_volatile", T, "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp()"),
        new("add_column_default_uuid", T, "ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()"),
        new("add_column_generated_stored", T, "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED"),
        new("add_column_identity", T, "ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY"),
        new("add_column_serial", T, "ALTER TABLE t ADD COLUMN c serial"),
        new("add_column_bigserial", T, "ALTER TABLE t ADD COLUMN c bigserial"),
        new("add_column_unique", T, "ALTER TABLE t ADD COLUMN c int UNIQUE"),
        new("add_column_primary_key", NoPk, "ALTER TABLE t ADD COLUMN c uuid PRIMARY KEY DEFAULT gen_random_uuid()"),
        new("add_column_references", T + O, "ALTER TABLE t ADD COLUMN o_id int REFERENCES o (id)"),
        new("add_column_check", T, "ALTER TABLE t ADD COLUMN c int CHECK (c > 0)"),

        // ── columns ──
        new("drop_column", T, "ALTER TABLE t DROP COLUMN s"),
        new("drop_indexed_column", T, "ALTER TABLE t DROP COLUMN v"),
        new("set_default", T, "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0"),
        new("drop_default", T + "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT"),
        new("set_not_null", T, "ALTER TABLE t ALTER COLUMN a SET NOT NULL"),
        new("set_not_null_validated_check", T + "ALTER TABLE t ADD CONSTRAINT t_a_not_null CHECK (a IS NOT NULL);",
            "ALTER TABLE t ALTER COLUMN a SET NOT NULL"),
        new("drop_not_null", T + "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", "ALTER TABLE t ALTER COLUMN a DROP NOT NULL"),
        new("type_int_bigint", T, "ALTER TABLE t ALTER COLUMN a TYPE bigint"),
        new("type_varchar_widen", T, "ALTER TABLE t ALTER COLUMN v TYPE varchar(255)"),
        new("type_varchar_text", T, "ALTER TABLE t ALTER COLUMN v TYPE text"),
        new("type_varchar_narrow", T, "ALTER TABLE t ALTER COLUMN v TYPE varchar(50)"),
        new("type_numeric_widen", T, "ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2)"),
        new("type_numeric_scale", T, "ALTER TABLE t ALTER COLUMN n TYPE numeric(12,3)"),
        new("type_text_varchar", T, "ALTER TABLE t ALTER COLUMN s TYPE varchar(10)"),
        new("set_statistics", T, "ALTER TABLE t ALTER COLUMN a SET STATISTICS 500"),
        new("set_fillfactor", T, "ALTER TABLE t SET (fillfactor = 70)"),

        // ── constraints ──
        new("add_check", T, "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0)"),
        new("add_check_not_valid", T, "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0) NOT VALID"),
        new("add_fk", T + O, "ALTER TABLE t ADD CONSTRAINT t_a_fk FOREIGN KEY (a) REFERENCES o (id)"),
        new("add_fk_not_valid", T + O, "ALTER TABLE t ADD CONSTRAINT t_a_fk FOREIGN KEY (a) REFERENCES o (id) NOT VALID"),
        new("add_unique", T, "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a)"),
        new("add_primary_key", NoPk, "ALTER TABLE t ADD PRIMARY KEY (id)"),
        new("add_unique_using_index", T + "CREATE UNIQUE INDEX t_a_key ON t (a);", "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE USING INDEX t_a_key"),
        new("add_primary_key_using_index", NoPk + "CREATE UNIQUE INDEX t_id_key ON t (id);",
            "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id_key"),
        new("add_exclude", T, "ALTER TABLE t ADD CONSTRAINT t_r_excl EXCLUDE USING gist (r WITH &&)"),
        new("validate_check", T + "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0) NOT VALID;",
            "ALTER TABLE t VALIDATE CONSTRAINT t_a_positive"),
        new("validate_fk", T + O + "ALTER TABLE t ADD CONSTRAINT t_a_fk FOREIGN KEY (a) REFERENCES o (id) NOT VALID;",
            "ALTER TABLE t VALIDATE CONSTRAINT t_a_fk"),
        new("drop_constraint_check", T + Check, "ALTER TABLE t DROP CONSTRAINT t_a_positive"),
        new("drop_constraint_fk", T + Fk, "ALTER TABLE t DROP CONSTRAINT t_a_fk"),
        new("drop_constraint_unique", T + "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a);", "ALTER TABLE t DROP CONSTRAINT t_a_key"),

        // ── other ALTER TABLE forms ──
        new("rename_column", T, "ALTER TABLE t RENAME COLUMN a TO b"),
        new("rename_table", T, "ALTER TABLE t RENAME TO t2"),
        new("rename_constraint", T + Check, "ALTER TABLE t RENAME CONSTRAINT t_a_positive TO t_a_gt_zero"),
        new("set_schema", T + "CREATE SCHEMA lt_set_schema_dest;", "ALTER TABLE t SET SCHEMA lt_set_schema_dest"),
        new("enable_rls", T, "ALTER TABLE t ENABLE ROW LEVEL SECURITY"),
        new("disable_rls", T + "ALTER TABLE t ENABLE ROW LEVEL SECURITY;", "ALTER TABLE t DISABLE ROW LEVEL SECURITY"),
        new("force_rls", T, "ALTER TABLE t FORCE ROW LEVEL SECURITY"),
        new("enable_trigger", T + Trigger + "ALTER TABLE t DISABLE TRIGGER t_touch;", "ALTER TABLE t ENABLE TRIGGER t_touch"),
        new("disable_trigger", T + Trigger, "ALTER TABLE t DISABLE TRIGGER t_touch"),
        new("owner_to", T + "DO $$ BEGIN CREATE ROLE lock_truth_owner; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;",
            "ALTER TABLE t OWNER TO lock_truth_owner"),
        new("set_logged", T.Replace("CREATE TABLE t", "CREATE UNLOGGED TABLE t"), "ALTER TABLE t SET LOGGED"),
        new("set_unlogged", T, "ALTER TABLE t SET UNLOGGED"),
        new("cluster_on", T, "ALTER TABLE t CLUSTER ON t_pkey"),
        new("attach_partition", P, "ALTER TABLE p ATTACH PARTITION p2 FOR VALUES FROM (100) TO (200)"),
        new("detach_partition", P, "ALTER TABLE p DETACH PARTITION p1"),
        new("detach_partition_concurrently", P, "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", NoTx: "SELECT count(*) FROM p1"),

        // ── indexes ──
        new("create_index", T, "CREATE INDEX t_a_idx ON t (a)"),
        new("create_unique_index", T, "CREATE UNIQUE INDEX t_a_key ON t (a)"),
        new("create_index_concurrently", T, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a)", NoTx: "INSERT INTO t (id) VALUES (0)"),
        new("alter_index_rename", T, "ALTER INDEX t_v_idx RENAME TO t_v_key"),
        new("drop_index", T, "DROP INDEX t_v_idx"),
        new("drop_index_concurrently", T, "DROP INDEX CONCURRENTLY t_v_idx", NoTx: "SELECT count(*) FROM t"),
        new("reindex_index", T, "REINDEX INDEX t_v_idx"),
        new("reindex_table", T, "REINDEX TABLE t"),
        new("reindex_index_concurrently", T, "REINDEX INDEX CONCURRENTLY t_v_idx", NoTx: "INSERT INTO t (id) VALUES (0)"),

        // ── maintenance ──
        new("cluster", T, "CLUSTER t USING t_pkey"),
        new("vacuum", T, "VACUUM t", NoTx: "LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE"),
        new("vacuum_full", T, "VACUUM FULL t", NoTx: "SELECT count(*) FROM t"),
        new("analyze", T, "ANALYZE t"),

        // ── whole tables ──
        new("truncate", T, "TRUNCATE t"),
        new("drop_table", T, "DROP TABLE t"),
        new("drop_table_with_fk", T + Fk, "DROP TABLE t"),
        new("lock_table", T, "LOCK TABLE t"),
        new("lock_table_share_row_exclusive", T, "LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE"),
        new("create_table_references", O, "CREATE TABLE c (id int PRIMARY KEY, o_id int REFERENCES o (id))"),

        // ── policies, triggers, views ──
        new("create_policy", T, "CREATE POLICY t_read ON t FOR SELECT USING (a > 0)"),
        new("create_policy_subquery", T + O, "CREATE POLICY t_member ON t USING (a IN (SELECT id FROM o))"),
        new("alter_policy", T + Policy, "ALTER POLICY t_read ON t USING (a > 10)"),
        new("drop_policy", T + Policy, "DROP POLICY t_read ON t"),
        new("create_trigger", T + "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;",
            "CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch()"),
        new("drop_trigger", T + Trigger, "DROP TRIGGER t_touch ON t"),
        new("create_view", T, "CREATE VIEW tv AS SELECT id, a FROM t"),
        new("create_or_replace_view", T + "CREATE VIEW tv AS SELECT id, a FROM t;", "CREATE OR REPLACE VIEW tv AS SELECT id, a, v FROM t"),
        new("create_materialized_view", T, "CREATE MATERIALIZED VIEW tm AS SELECT id, a FROM t"),
        new("refresh_materialized_view", T + Mv, "REFRESH MATERIALIZED VIEW tm"),
        new("refresh_materialized_view_concurrently", T + Mv, "REFRESH MATERIALIZED VIEW CONCURRENTLY tm"),

        // ── types, comments, grants ──
        new("alter_type_add_value", "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE e (id int, m mood); INSERT INTO e VALUES (1, 'ok');",
            "ALTER TYPE mood ADD VALUE 'happy'"),
        new("alter_type_rename_value", "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE e (id int, m mood); INSERT INTO e VALUES (1, 'ok');",
            "ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'"),
        new("alter_domain_add_constraint", "CREATE DOMAIN pos AS int; CREATE TABLE d (id int, x pos); INSERT INTO d SELECT g, g FROM generate_series(1, 1000) g;",
            "ALTER DOMAIN pos ADD CONSTRAINT pos_positive CHECK (VALUE > 0)"),
        new("comment_on_table", T, "COMMENT ON TABLE t IS 'contacts'"),
        new("comment_on_column", T, "COMMENT ON COLUMN t.a IS 'a number'"),
        new("comment_on_index", T, "COMMENT ON INDEX t_v_idx IS 'by v'"),
        new("rename_indexed_column", T, "ALTER TABLE t RENAME COLUMN v TO w"),
        new("grant_select", T, "GRANT SELECT ON TABLE t TO PUBLIC"),

        // ── data, functions, sequences ──
        new("insert", T, "INSERT INTO t (id, a) VALUES (0, 0)"),
        new("insert_with_fk", T + Fk, "INSERT INTO t (id, a) VALUES (0, 1)"),
        new("update", T, "UPDATE t SET a = a + 1 WHERE id <= 10"),
        new("delete", T, "DELETE FROM t WHERE id <= 10"),
        new("cte_update", T, "WITH moved AS (UPDATE t SET a = a + 1 WHERE id <= 10 RETURNING id) SELECT count(*) FROM moved"),
        new("cte_delete_insert", T + O, "WITH gone AS (DELETE FROM t WHERE id <= 10 RETURNING id) INSERT INTO o SELECT id + 5000 FROM gone"),
        new("create_function_plpgsql", T, "CREATE OR REPLACE FUNCTION t_count() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM t); END $$"),
        new("create_function_sql", T, "CREATE OR REPLACE FUNCTION t_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM t $$"),
        new("alter_sequence", "CREATE SEQUENCE sq;", "ALTER SEQUENCE sq RESTART WITH 100"),

        // ── a transaction block: the locks held at its end ──
        new("block_add_column_update", T, "BEGIN; ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = a; COMMIT;"),
    ];
}
