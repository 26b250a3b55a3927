-- Demo schema: the application database the analytics tracking migration applies to.
-- Installed by `chatops demo` and by the test fixture into a fresh database. Idempotent.
--
-- The application identifies its user per session with `SET app.user_id = '<uuid>'`; row-level
-- security on contacts shows a user the contacts of the organisations they are a member of.

CREATE EXTENSION IF NOT EXISTS pgcrypto;   -- gen_random_uuid() is core since PG13; kept for PG12 targets

CREATE TABLE IF NOT EXISTS public.organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text NOT NULL UNIQUE,
    full_name   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.organization_members (
    organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    role            text NOT NULL DEFAULT 'member',
    PRIMARY KEY (organization_id, user_id)
);
-- The RLS policies look memberships up by user.
CREATE INDEX IF NOT EXISTS organization_members_user_id_idx ON public.organization_members (user_id);

CREATE TABLE IF NOT EXISTS public.contacts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    email           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS contacts_organization_id_idx ON public.contacts (organization_id);

-- The application's user for the current session, or NULL when none is set.
CREATE OR REPLACE FUNCTION public.current_app_user_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

ALTER TABLE public.contacts ENABLE ROW LEVEL SECURITY;

-- The existing policy: members see their organisations' contacts. The membership lookup is an
-- uncorrelated sub-select, so it runs once per statement (a hashed SubPlan), not once per row.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_policies
                   WHERE schemaname = 'public' AND tablename = 'contacts'
                     AND policyname = 'Organization members can access contacts') THEN
        CREATE POLICY "Organization members can access contacts" ON public.contacts
            FOR ALL
            USING (organization_id IN (SELECT m.organization_id FROM public.organization_members m
                                       WHERE m.user_id = public.current_app_user_id()))
            WITH CHECK (organization_id IN (SELECT m.organization_id FROM public.organization_members m
                                            WHERE m.user_id = public.current_app_user_id()));
    END IF;
END $$;

-- The application's login role: neither superuser nor owner, so row-level security applies to it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_user') THEN
        CREATE ROLE app_user LOGIN PASSWORD 'app_user';
    END IF;
EXCEPTION
    -- Roles are cluster-wide: another database being set up at the same moment may have won the race.
    WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO app_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.organizations, public.users,
      public.organization_members, public.contacts TO app_user;
GRANT EXECUTE ON FUNCTION public.current_app_user_id() TO app_user;

-- Fills the schema with `contacts` contacts spread over `organizations` organisations, each
-- organisation with a handful of members. Set-based: one INSERT … SELECT per table.
CREATE OR REPLACE FUNCTION public.generate_demo_data(contacts int, organizations int)
    RETURNS TABLE (table_name text, row_count bigint)
    LANGUAGE plpgsql
AS $$
BEGIN
    IF contacts < 0 OR organizations < 1 THEN
        RAISE EXCEPTION 'generate_demo_data: need contacts >= 0 and organizations >= 1 (got %, %)',
            contacts, organizations;
    END IF;

    DROP TABLE IF EXISTS _new_orgs, _new_members;
    CREATE TEMP TABLE _new_orgs ON COMMIT DROP AS
    WITH ins AS (
        INSERT INTO public.organizations (name, created_at)
        SELECT 'Organization ' || g, now() - (g || ' days')::interval
        FROM generate_series(1, organizations) g
        RETURNING id
    )
    SELECT id, row_number() OVER () AS n FROM ins;

    -- Three members per organisation, the first its owner.
    CREATE TEMP TABLE _new_members ON COMMIT DROP AS
    SELECT o.id AS organization_id, gen_random_uuid() AS user_id, o.n, k
    FROM _new_orgs o CROSS JOIN generate_series(1, 3) k;

    INSERT INTO public.users (id, email, full_name)
    SELECT user_id, 'user' || n || '-' || k || '-' || left(user_id::text, 8) || '@example.test',
           'User ' || n || '-' || k
    FROM _new_members;

    INSERT INTO public.organization_members (organization_id, user_id, role)
    SELECT organization_id, user_id, CASE k WHEN 1 THEN 'owner' ELSE 'member' END
    FROM _new_members;

    INSERT INTO public.contacts (organization_id, name, email, created_at)
    SELECT o.id,
           'Contact ' || g,
           'contact' || g || '-' || substr(md5(random()::text), 1, 6) || '@example.test',
           now() - (random() * interval '365 days')
    FROM generate_series(1, contacts) g
    JOIN _new_orgs o ON o.n = 1 + (g % organizations);

    ANALYZE public.organizations;
    ANALYZE public.users;
    ANALYZE public.organization_members;
    ANALYZE public.contacts;

    RETURN QUERY
    SELECT 'organizations', (SELECT count(*) FROM public.organizations)
    UNION ALL SELECT 'users', (SELECT count(*) FROM public.users)
    UNION ALL SELECT 'organization_members', (SELECT count(*) FROM public.organization_members)
    UNION ALL SELECT 'contacts', (SELECT count(*) FROM public.contacts);
END $$;
