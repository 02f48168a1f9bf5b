-- Time series storage that works with and without TimescaleDB.
--
-- The migration runner sets the session setting dusttwin.timeseries_mode to 'timescaledb' or
-- 'plain' before it runs any file (see dusttwin/migrate.py). In 'timescaledb' mode a time-series
-- table is a hypertable and old data goes with drop_chunks(); in 'plain' mode it is a table
-- partitioned by range of time, with partitions created ahead and dropped by the platform
-- (dt_ensure_partitions, dt_drop_before), and a default partition so that no reading is ever
-- refused for want of a partition.

CREATE TABLE timeseries_tables (
    name           text PRIMARY KEY,
    time_column    text NOT NULL,
    chunk_interval interval NOT NULL,
    mode           text NOT NULL CHECK (mode IN ('timescaledb', 'plain'))
);
COMMENT ON TABLE timeseries_tables IS
    'Every time-series table, its chunk (partition) interval and storage mode.';

CREATE FUNCTION dt_timeseries_mode() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('dusttwin.timeseries_mode', true), ''), 'plain')
$$;

-- Create a time-series table: a hypertable, or a range-partitioned table with a default partition.
CREATE FUNCTION dt_create_timeseries_table(
    p_name text, p_columns text, p_time_column text, p_chunk interval
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_mode text := dt_timeseries_mode();
BEGIN
    IF v_mode = 'timescaledb' THEN
        EXECUTE format('CREATE TABLE %I (%s)', p_name, p_columns);
        PERFORM create_hypertable(p_name::regclass, by_range(p_time_column, p_chunk));
    ELSE
        EXECUTE format('CREATE TABLE %I (%s) PARTITION BY RANGE (%I)', p_name, p_columns, p_time_column);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', p_name || '_default', p_name);
    END IF;
    INSERT INTO timeseries_tables (name, time_column, chunk_interval, mode)
    VALUES (p_name, p_time_column, p_chunk, v_mode);
END
$$;

-- Plain mode: make sure a partition exists for every chunk that overlaps [p_from, p_to).
-- Rows that already sit in the default partition for a new chunk are moved into it, so a
-- partition can be created late (backfill) without losing or refusing anything.
-- Returns the number of partitions created. A no-op for hypertables (TimescaleDB makes chunks).
CREATE FUNCTION dt_ensure_partitions(p_name text, p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t timeseries_tables%ROWTYPE;
    v_lo timestamptz;
    v_part text;
    v_default text := p_name || '_default';
    v_created integer := 0;
BEGIN
    SELECT * INTO STRICT t FROM timeseries_tables WHERE name = p_name;
    IF t.mode <> 'plain' THEN
        RETURN 0;
    END IF;
    FOR v_lo IN
        SELECT generate_series(
            date_bin(t.chunk_interval, p_from, timestamptz '2000-01-01 00:00:00+00'),
            p_to - interval '1 microsecond', t.chunk_interval)
    LOOP
        v_part := format('%s_p%s', p_name, to_char(v_lo AT TIME ZONE 'UTC', 'YYYYMMDD"_"HH24MI'));
        CONTINUE WHEN to_regclass(quote_ident(v_part)) IS NOT NULL;
        -- Block writers to the default partition while its rows for this chunk move out.
        EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', v_default);
        EXECUTE format(
            'CREATE TEMP TABLE dt_moving ON COMMIT DROP AS '
            'WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
            'SELECT * FROM moved', v_default, t.time_column, t.time_column)
            USING v_lo, v_lo + t.chunk_interval;
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       v_part, p_name, v_lo, v_lo + t.chunk_interval);
        EXECUTE format('INSERT INTO %I SELECT * FROM dt_moving', p_name);
        DROP TABLE dt_moving;
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END
$$;

-- Drop the data of a time-series table older than p_before (whole chunks or partitions only,
-- plus old rows in the plain mode's default partition). Returns the number of chunks dropped.
CREATE FUNCTION dt_drop_before(p_name text, p_before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t timeseries_tables%ROWTYPE;
    v_child record;
    v_dropped integer := 0;
BEGIN
    SELECT * INTO STRICT t FROM timeseries_tables WHERE name = p_name;
    IF t.mode = 'timescaledb' THEN
        EXECUTE 'SELECT count(*) FROM drop_chunks($1::regclass, older_than => $2)'
            INTO v_dropped USING p_name, p_before;
        RETURN v_dropped;
    END IF;
    FOR v_child IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
                   AS upper_bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = p_name::regclass AND c.relname <> p_name || '_default'
    LOOP
        IF v_child.upper_bound <= p_before THEN
            EXECUTE format('DROP TABLE %I', v_child.relname);
            v_dropped := v_dropped + 1;
        END IF;
    END LOOP;
    EXECUTE format('DELETE FROM %I WHERE %I < $1', p_name || '_default', t.time_column)
        USING p_before;
    RETURN v_dropped;
END
$$;

-- Quality codes of a stored reading (protocol v1 §4, domain.md §2).
CREATE TABLE reading_quality (
    code  smallint PRIMARY KEY,
    name  text NOT NULL UNIQUE,
    label_zh text NOT NULL
);
INSERT INTO reading_quality (code, name, label_zh) VALUES
    (0, 'GOOD', '正常'),
    (1, 'FAULT', '传感器故障'),
    (2, 'MAINT', '检修'),
    (3, 'OVER_RANGE', '超量程');

-- Raw readings: one row per point and time; (point_id, time) is unique so that at-least-once
-- delivery stores exactly once.
SELECT dt_create_timeseries_table(
    'readings',
    'time timestamptz NOT NULL, point_id bigint NOT NULL, value double precision, '
    'quality smallint NOT NULL DEFAULT 0, received_at timestamptz NOT NULL DEFAULT now(), '
    'PRIMARY KEY (point_id, time)',
    'time', interval '1 day');

-- Downsampled rollups, maintained by dt_refresh_rollups from GOOD readings only (out-of-range,
-- fault and maintenance values are excluded from trends). avg = sum / n.
SELECT dt_create_timeseries_table(
    'readings_1m',
    'bucket timestamptz NOT NULL, point_id bigint NOT NULL, n integer NOT NULL, '
    'sum double precision NOT NULL, min double precision NOT NULL, max double precision NOT NULL, '
    'PRIMARY KEY (point_id, bucket)',
    'bucket', interval '7 days');

SELECT dt_create_timeseries_table(
    'readings_1h',
    'bucket timestamptz NOT NULL, point_id bigint NOT NULL, n integer NOT NULL, '
    'sum double precision NOT NULL, min double precision NOT NULL, max double precision NOT NULL, '
    'PRIMARY KEY (point_id, bucket)',
    'bucket', interval '90 days');

-- Hours whose rollups must be recomputed because readings arrived late (buffered data,
-- 断点续传). The writer marks them; the rollup job clears them.
CREATE TABLE rollup_pending (
    hour timestamptz PRIMARY KEY
);

-- Recompute the 1-minute rollups of every minute overlapping [p_from, p_to), then the 1-hour
-- rollups of every hour those minutes fall in (from the minute rollups). Idempotent.
-- Returns the number of minute buckets written.
CREATE FUNCTION dt_refresh_rollups(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_origin constant timestamptz := timestamptz '2000-01-01 00:00:00+00';
    v_lo timestamptz := date_bin(interval '1 minute', p_from, v_origin);
    v_hi timestamptz := date_bin(interval '1 minute', p_to - interval '1 microsecond', v_origin)
                        + interval '1 minute';
    v_hour_lo timestamptz := date_bin(interval '1 hour', v_lo, v_origin);
    v_hour_hi timestamptz := date_bin(interval '1 hour', v_hi - interval '1 microsecond', v_origin)
                             + interval '1 hour';
    v_written integer;
BEGIN
    DELETE FROM readings_1m WHERE bucket >= v_lo AND bucket < v_hi;
    INSERT INTO readings_1m (bucket, point_id, n, sum, min, max)
    SELECT date_bin(interval '1 minute', time, v_origin), point_id,
           count(*), sum(value), min(value), max(value)
    FROM readings
    WHERE time >= v_lo AND time < v_hi AND quality = 0 AND value IS NOT NULL
    GROUP BY 1, 2;
    GET DIAGNOSTICS v_written = ROW_COUNT;
    DELETE FROM readings_1h WHERE bucket >= v_hour_lo AND bucket < v_hour_hi;
    INSERT INTO readings_1h (bucket, point_id, n, sum, min, max)
    SELECT date_bin(interval '1 hour', bucket, v_origin), point_id,
           sum(n), sum(sum), min(min), max(max)
    FROM readings_1m
    WHERE bucket >= v_hour_lo AND bucket < v_hour_hi
    GROUP BY 1, 2;
    RETURN v_written;
END
$$;
