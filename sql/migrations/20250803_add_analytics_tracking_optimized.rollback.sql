-- Rollback of 20250803_add_analytics_tracking_optimized: the checklist's emergency rollback, in its
-- order. The columns and their data are kept (step 5 is left commented out: it loses data).

-- 1. Remove RLS policy
DROP POLICY IF EXISTS "Analytics access optimized" ON public.contacts;

-- 2. Drop indexes (CONCURRENTLY to maintain availability)
DROP INDEX CONCURRENTLY IF EXISTS public.idx_contacts_analytics_optimized;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_contacts_org_analytics_optimized;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_contacts_analytics_date;

-- 3. Drop function
DROP FUNCTION IF EXISTS public.user_has_contact_access_optimized(UUID);

-- 4. Remove defaults (keep data, just remove constraints). Only where the columns exist: the rollback is
--    idempotent, and safe after a run that stopped before it added them.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.contacts'::regclass AND attname = 'analytics_enabled' AND NOT attisdropped) THEN
        ALTER TABLE public.contacts
            ALTER COLUMN analytics_enabled DROP DEFAULT,
            ALTER COLUMN analytics_enabled DROP NOT NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.contacts'::regclass AND attname = 'last_analytics_update' AND NOT attisdropped) THEN
        ALTER TABLE public.contacts
            ALTER COLUMN last_analytics_update DROP DEFAULT,
            ALTER COLUMN last_analytics_update DROP NOT NULL;
    END IF;
    -- A re-run stopped part-way may have left its NOT VALID checks: they would bind the nullable columns.
    ALTER TABLE public.contacts DROP CONSTRAINT IF EXISTS contacts_analytics_enabled_not_null;
    ALTER TABLE public.contacts DROP CONSTRAINT IF EXISTS contacts_last_analytics_update_not_null;
END $$;

-- 5. Optional: Remove columns (WARNING: Data loss)
-- ALTER TABLE public.contacts
--     DROP COLUMN IF EXISTS analytics_enabled,
--     DROP COLUMN IF EXISTS last_analytics_update;
