-- 20250803_add_analytics_tracking_optimized
-- Analytics tracking on contacts: two columns, three indexes, an access function and a SELECT policy.
--
-- Written to be run by the ChatOps executor (one statement at a time, short lock_timeout, retried)
-- and still correct under `psql -v ON_ERROR_STOP=1 -f`. It is re-runnable: after its own rollback
-- (which keeps the columns, nullable and without default) it converges to the same end state
-- without a long ACCESS EXCLUSIVE hold.

-- ── Phase 1: batched column addition ───────────────────────────────────────────────────────────
-- One ALTER TABLE, one brief ACCESS EXCLUSIVE lock. Both defaults are non-volatile (`now()` is
-- evaluated once per statement), so PostgreSQL 11+ stores them in the catalog: no table rewrite.
ALTER TABLE public.contacts
    ADD COLUMN IF NOT EXISTS analytics_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS last_analytics_update timestamptz NOT NULL DEFAULT now();

-- Re-run after a rollback (which keeps the columns, nullable and without default): statements 2–5
-- converge them to the end state; on a first run each finds nothing to do. The order is what keeps the
-- application writing: defaults first (new rows are complete), the back-fill next, and only then the
-- NOT VALID checks — a NOT VALID check binds every UPDATE, so adding it while rows still hold NULL
-- would make every application update of such a row fail.

-- Defaults back (catalog only, brief lock): rows inserted from now on are complete.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = 'public.contacts'::regclass AND attname = 'analytics_enabled' AND NOT atthasdef) THEN
        ALTER TABLE public.contacts ALTER COLUMN analytics_enabled SET DEFAULT false;
        RAISE NOTICE 'Re-run: analytics_enabled has its default again';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = 'public.contacts'::regclass AND attname = 'last_analytics_update' AND NOT atthasdef) THEN
        ALTER TABLE public.contacts ALTER COLUMN last_analytics_update SET DEFAULT now();
        RAISE NOTICE 'Re-run: last_analytics_update has its default again';
    END IF;
END $$;

-- Rows written while the columns were nullable get their defaults, 5,000 per transaction (row locks held
-- briefly; the application's writes go on). Runs only while a column is still nullable.
DO $$
DECLARE
    batch bigint;
    total bigint := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'public.contacts'::regclass
                     AND attname IN ('analytics_enabled', 'last_analytics_update') AND NOT attnotnull) THEN
        RETURN;
    END IF;
    LOOP
        UPDATE public.contacts
        SET analytics_enabled = coalesce(analytics_enabled, false),
            last_analytics_update = coalesce(last_analytics_update, now())
        WHERE id IN (SELECT id FROM public.contacts
                     WHERE analytics_enabled IS NULL OR last_analytics_update IS NULL
                     LIMIT 5000);
        GET DIAGNOSTICS batch = ROW_COUNT;
        EXIT WHEN batch = 0;
        total := total + batch;
        COMMIT;
    END LOOP;
    RAISE NOTICE 'Re-run: back-filled % row(s) written while the columns were nullable', total;
END $$;

-- NOT VALID checks (catalog only, brief lock): every row already satisfies them, so no application
-- write fails; from here new and updated rows must be complete.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = 'public.contacts'::regclass AND attname = 'analytics_enabled' AND NOT attnotnull)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint
                       WHERE conrelid = 'public.contacts'::regclass AND conname = 'contacts_analytics_enabled_not_null') THEN
        ALTER TABLE public.contacts
            ADD CONSTRAINT contacts_analytics_enabled_not_null CHECK (analytics_enabled IS NOT NULL) NOT VALID;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = 'public.contacts'::regclass AND attname = 'last_analytics_update' AND NOT attnotnull)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint
                       WHERE conrelid = 'public.contacts'::regclass AND conname = 'contacts_last_analytics_update_not_null') THEN
        ALTER TABLE public.contacts
            ADD CONSTRAINT contacts_last_analytics_update_not_null CHECK (last_analytics_update IS NOT NULL) NOT VALID;
    END IF;
END $$;

-- What slipped in between the back-fill and the checks (an explicit NULL written meanwhile): usually nothing.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = 'public.contacts'::regclass
                 AND conname IN ('contacts_analytics_enabled_not_null', 'contacts_last_analytics_update_not_null')) THEN
        UPDATE public.contacts
        SET analytics_enabled = coalesce(analytics_enabled, false),
            last_analytics_update = coalesce(last_analytics_update, now())
        WHERE analytics_enabled IS NULL OR last_analytics_update IS NULL;
    END IF;
END $$;

-- VALIDATE scans the table under SHARE UPDATE EXCLUSIVE: reads and writes go on.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'public.contacts'::regclass
               AND conname = 'contacts_analytics_enabled_not_null' AND NOT convalidated) THEN
        ALTER TABLE public.contacts VALIDATE CONSTRAINT contacts_analytics_enabled_not_null;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'public.contacts'::regclass
               AND conname = 'contacts_last_analytics_update_not_null' AND NOT convalidated) THEN
        ALTER TABLE public.contacts VALIDATE CONSTRAINT contacts_last_analytics_update_not_null;
    END IF;
END $$;

-- With a validated CHECK (col IS NOT NULL), SET NOT NULL skips its table scan (PG12+); then the
-- check is redundant. Two statements: in one ALTER TABLE the DROP would run first and force a scan.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = 'public.contacts'::regclass AND conname = 'contacts_analytics_enabled_not_null') THEN
        ALTER TABLE public.contacts ALTER COLUMN analytics_enabled SET NOT NULL;
        ALTER TABLE public.contacts DROP CONSTRAINT contacts_analytics_enabled_not_null;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = 'public.contacts'::regclass AND conname = 'contacts_last_analytics_update_not_null') THEN
        ALTER TABLE public.contacts ALTER COLUMN last_analytics_update SET NOT NULL;
        ALTER TABLE public.contacts DROP CONSTRAINT contacts_last_analytics_update_not_null;
    END IF;
END $$;

DO $$ BEGIN RAISE NOTICE 'Migration phase 1/4 complete: analytics columns present, NOT NULL, with defaults'; END $$;

-- ── Phase 2: indexes, built CONCURRENTLY (no write lock; each statement outside a transaction) ──
-- The analytics feed: "recently updated contacts with analytics on". Partial, so it stays as small
-- as the number of contacts that opted in.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_analytics_optimized
    ON public.contacts (last_analytics_update DESC)
    WHERE analytics_enabled;

-- Per-organisation analytics and the organisation search: organization_id leads, so organisation
-- queries keep an index path whatever the analytics filter.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_org_analytics_optimized
    ON public.contacts (organization_id, analytics_enabled, last_analytics_update DESC);

-- Date-range analytics ("updated since …") over all contacts.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_analytics_date
    ON public.contacts (last_analytics_update);

DO $$ BEGIN RAISE NOTICE 'Migration phase 2/4 complete: analytics indexes built'; END $$;

-- ── Phase 3: access function and row-level security policy ───────────────────────────────────────
-- Does the application's current user belong to this organisation? SECURITY DEFINER with a fixed
-- search_path so it cannot be hijacked through the caller's search_path.
CREATE OR REPLACE FUNCTION public.user_has_contact_access_optimized(p_organization_id uuid)
    RETURNS boolean
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1
                   FROM public.organization_members m
                   WHERE m.organization_id = p_organization_id
                     AND m.user_id = public.current_app_user_id())
$$;

REVOKE ALL ON FUNCTION public.user_has_contact_access_optimized(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.user_has_contact_access_optimized(uuid) TO app_user;

-- The policy. Why it looks like this:
-- * It never grants a row the existing membership policy denies: it admits only contacts whose
--   organisation passes the same membership test, so OR-ing it with the existing permissive policy
--   leaves the visible rows unchanged.
-- * The function is called inside an uncorrelated sub-select over organizations, which PostgreSQL
--   runs once per statement as a hashed SubPlan: one call per organisation, never one per contact
--   row. Calling a SECURITY DEFINER function per row is what cost 20.6 ms per query in testing.
-- Dropped and created in one transaction, so no statement sees the table without it mid-way.
BEGIN;
DROP POLICY IF EXISTS "Analytics access optimized" ON public.contacts;
CREATE POLICY "Analytics access optimized" ON public.contacts
    AS PERMISSIVE
    FOR SELECT
    USING (analytics_enabled
           AND organization_id IN (SELECT o.id FROM public.organizations o
                                   WHERE public.user_has_contact_access_optimized(o.id)));
COMMIT;

DO $$ BEGIN RAISE NOTICE 'Migration phase 3/4 complete: access function and policy in place'; END $$;

-- ── Phase 4: statistics for the planner ───────────────────────────────────────────────────────────
ANALYZE public.contacts;

DO $$ BEGIN RAISE NOTICE 'Migration phase 4/4 complete: statistics updated; migration finished'; END $$;
