-- Monitoring and benchmark functions the checklist calls by hand, installed on the target by the
-- runbook's phase 1 when missing. Idempotent (CREATE OR REPLACE).
--
--   SELECT * FROM benchmark_query_performance();          -- representative query timings
--   SELECT * FROM quick_performance_check();              -- one-shot health figures
--   CALL monitor_migration_performance(1800, 10);         -- samples as NOTICEs, 30 min every 10 s
--
-- monitor_migration_performance is a PROCEDURE, not a function: a function called by one
-- 30-minute SELECT would hold one snapshot for 30 minutes, and CREATE INDEX CONCURRENTLY waits for
-- every transaction holding an older snapshot — the monitor would stall the index builds it
-- watches. The procedure commits after every sample and every short sleep instead.

CREATE OR REPLACE FUNCTION public.benchmark_query_performance(p_runs int DEFAULT 5)
    RETURNS TABLE (query_name text, runs int, mean_ms numeric, max_ms numeric, rows_returned bigint)
    LANGUAGE plpgsql
AS $$
DECLARE
    org uuid;
    contact uuid;
    has_analytics boolean;
    q record;
    started timestamptz;
    elapsed numeric;
    total numeric;
    worst numeric;
    n bigint;
BEGIN
    IF p_runs < 1 THEN
        RAISE EXCEPTION 'benchmark_query_performance: p_runs must be at least 1 (got %)', p_runs;
    END IF;
    -- The busiest organisation and one of its contacts stand for a typical request.
    SELECT c.organization_id INTO org FROM public.contacts c
    GROUP BY c.organization_id ORDER BY count(*) DESC LIMIT 1;
    SELECT c.id INTO contact FROM public.contacts c WHERE c.organization_id = org LIMIT 1;
    has_analytics := EXISTS (SELECT 1 FROM information_schema.columns
                             WHERE table_schema = 'public' AND table_name = 'contacts'
                               AND column_name = 'analytics_enabled');

    FOR q IN
        SELECT * FROM (VALUES
            ('organization_search', true,
             'SELECT id, name, email FROM public.contacts WHERE organization_id = $1 AND name LIKE ''Contact 1%'' ORDER BY created_at DESC LIMIT 50'),
            ('point_read', true,
             'SELECT * FROM public.contacts WHERE id = $2'),
            ('recent_contacts', true,
             'SELECT id, name, created_at FROM public.contacts WHERE organization_id = $1 ORDER BY created_at DESC LIMIT 20'),
            ('analytics_enabled_contacts', has_analytics,
             'SELECT id, last_analytics_update FROM public.contacts WHERE analytics_enabled = TRUE ORDER BY last_analytics_update DESC LIMIT 10')
        ) AS v(name, applicable, sql)
        WHERE v.applicable
    LOOP
        total := 0;
        worst := 0;
        FOR i IN 1..p_runs LOOP
            started := clock_timestamp();
            EXECUTE 'SELECT count(*) FROM (' || q.sql || ') q' INTO n USING org, contact;
            elapsed := extract(epoch FROM clock_timestamp() - started) * 1000;
            total := total + elapsed;
            worst := greatest(worst, elapsed);
        END LOOP;
        query_name := q.name;
        runs := p_runs;
        mean_ms := round(total / p_runs, 3);
        max_ms := round(worst, 3);
        rows_returned := n;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION public.quick_performance_check()
    RETURNS TABLE (check_name text, value numeric, unit text, status text)
    LANGUAGE plpgsql
AS $$
DECLARE
    max_conn numeric := current_setting('max_connections')::numeric;
    v numeric;
BEGIN
    SELECT count(*) INTO v FROM pg_stat_activity WHERE backend_type = 'client backend';
    RETURN QUERY SELECT 'connections_used', v, 'connections',
        CASE WHEN v > 0.8 * max_conn THEN 'warning' ELSE 'ok' END || format(' (%s of %s)', v, max_conn);

    SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0) INTO v
    FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend';
    RETURN QUERY SELECT 'longest_running_statement', round(v, 3), 's',
        CASE WHEN v > 60 THEN 'warning' ELSE 'ok' END;

    SELECT count(*) INTO v FROM pg_stat_activity WHERE wait_event_type = 'Lock';
    RETURN QUERY SELECT 'sessions_waiting_on_locks', v, 'sessions', CASE WHEN v > 0 THEN 'warning' ELSE 'ok' END;

    SELECT count(*) INTO v FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0;
    RETURN QUERY SELECT 'blocked_sessions', v, 'sessions', CASE WHEN v > 5 THEN 'critical' WHEN v > 0 THEN 'warning' ELSE 'ok' END;

    SELECT round(100.0 * blks_hit / nullif(blks_hit + blks_read, 0), 2) INTO v
    FROM pg_stat_database WHERE datname = current_database();
    RETURN QUERY SELECT 'cache_hit_ratio', coalesce(v, 100), '%', CASE WHEN coalesce(v, 100) < 90 THEN 'warning' ELSE 'ok' END;

    SELECT coalesce(n_dead_tup, 0) INTO v FROM pg_stat_user_tables WHERE relid = 'public.contacts'::regclass;
    RETURN QUERY SELECT 'contacts_dead_tuples', coalesce(v, 0), 'rows', 'ok';

    SELECT round(pg_total_relation_size('public.contacts') / 1048576.0, 2) INTO v;
    RETURN QUERY SELECT 'contacts_size', v, 'MB', 'ok';

    SELECT greatest(reltuples, 0)::numeric INTO v FROM pg_class WHERE oid = 'public.contacts'::regclass;
    RETURN QUERY SELECT 'contacts_estimated_rows', v, 'rows', 'ok';
END $$;

CREATE OR REPLACE PROCEDURE public.monitor_migration_performance(duration_seconds int DEFAULT 1800,
                                                                 interval_seconds int DEFAULT 10)
    LANGUAGE plpgsql
AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => duration_seconds);
    next_sample timestamptz;
    longest_wait interval;
    waiting int;
    blocked int;
    builds text;
BEGIN
    IF duration_seconds < 1 OR interval_seconds < 1 THEN
        RAISE EXCEPTION 'monitor_migration_performance: duration and interval must be at least 1 s';
    END IF;
    WHILE clock_timestamp() < deadline LOOP
        next_sample := clock_timestamp() + make_interval(secs => interval_seconds);

        SELECT max(now() - waitstart), count(*) INTO longest_wait, waiting FROM pg_locks WHERE NOT granted;
        SELECT count(*) INTO blocked FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0;
        SELECT string_agg(format('%s %s %s%%', p.relid::regclass, p.phase,
                                 CASE WHEN p.blocks_total > 0 THEN round(100.0 * p.blocks_done / p.blocks_total)
                                      WHEN p.tuples_total > 0 THEN round(100.0 * p.tuples_done / p.tuples_total)
                                      ELSE 0 END), '; ')
        INTO builds FROM pg_stat_progress_create_index p;

        RAISE NOTICE 'monitor % | longest lock wait % ms | waiting % | blocked % | index builds: %',
            to_char(clock_timestamp(), 'HH24:MI:SS'),
            coalesce(round(extract(epoch FROM longest_wait) * 1000), 0), waiting, blocked,
            coalesce(builds, 'none');
        COMMIT;

        -- Sleep in short slices, committing after each, so no snapshot outlives a slice.
        WHILE clock_timestamp() < least(next_sample, deadline) LOOP
            PERFORM pg_sleep(0.1);
            COMMIT;
        END LOOP;
    END LOOP;
END $$;
