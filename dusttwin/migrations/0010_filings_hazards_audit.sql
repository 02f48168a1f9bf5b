-- Maintenance and shutdown filings (检修/停产报备), major hidden dangers (重大事故隐患) and the
-- audit trail of every change to a twin's registered data (配置变更记录). docs/workflows.md
-- describes the rules; risk/filings.py and risk/hazards.py hold them.

-- btree_gist lets one GiST index say "no two live windows of the same enterprise and system
-- overlap" (text equality and range overlap together), so racing requests cannot both succeed.
-- It is a trusted extension (PostgreSQL >= 13): the owner of the database may create it without
-- superuser rights, and it ships with PostgreSQL on Debian, whichever time-series mode is used.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- ---------------------------------------------------------------- maintenance filings

CREATE TABLE maintenance_filings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code     text NOT NULL,
    adcode          text NOT NULL,                 -- the enterprise's, when filed
    system_code     text,                          -- NULL: the whole plant (全厂)
    kind            text NOT NULL CHECK (kind IN ('maintenance', 'shutdown')),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    state           text NOT NULL
                    CHECK (state IN ('FILED', 'APPROVED', 'REJECTED', 'WITHDRAWN')),
    filed_by        text NOT NULL,
    filed_at        timestamptz NOT NULL DEFAULT now(),
    decided_by      text,
    decided_at      timestamptz,
    decision_remark text,
    CONSTRAINT maintenance_filings_window CHECK (ends_at > starts_at),
    -- One live window per enterprise and target at any time. coalesce: NULL (the whole plant)
    -- must compare equal to itself here. A plant-wide window may overlap a system's: it covers
    -- that system anyway, and refusing it would make the enterprise withdraw first.
    CONSTRAINT maintenance_filings_no_overlap EXCLUDE USING gist (
        credit_code WITH =,
        (coalesce(system_code, '')) WITH =,
        tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (state IN ('FILED', 'APPROVED'))
);
COMMENT ON TABLE maintenance_filings IS
    'Maintenance/shutdown windows (检修/停产报备): alarms suppressed and offline time excused while APPROVED.';
CREATE INDEX maintenance_filings_adcode_idx
    ON maintenance_filings (adcode text_pattern_ops, starts_at DESC);
CREATE INDEX maintenance_filings_approved_idx
    ON maintenance_filings USING gist (credit_code, tstzrange(starts_at, ends_at))
    WHERE state = 'APPROVED';

CREATE TABLE filing_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    filing_id  bigint NOT NULL REFERENCES maintenance_filings (id),
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,  -- filed, approved, rejected, withdrawn, ended_early
    from_state text,
    to_state   text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX filing_history_filing_idx ON filing_history (filing_id, at);

-- Approved windows as ranges, for statistics: the online rate leaves the covered time out.
CREATE VIEW maintenance_windows AS
    SELECT id, credit_code, system_code, kind, tstzrange(starts_at, ends_at) AS during
    FROM maintenance_filings WHERE state = 'APPROVED';

-- The part of [p_from, p_to) that approved windows cover for one enterprise: plant-wide windows
-- always, a system's windows when p_system_code names that system (NULL: plant-wide only).
CREATE FUNCTION dt_filed_ranges(
    p_credit_code text, p_system_code text, p_from timestamptz, p_to timestamptz
) RETURNS tstzmultirange
LANGUAGE sql STABLE AS $$
    SELECT coalesce(range_agg(w.during * tstzrange(p_from, p_to)), '{}'::tstzmultirange)
    FROM maintenance_windows w
    WHERE w.credit_code = p_credit_code
      AND (w.system_code IS NULL OR w.system_code = p_system_code)
      AND w.during && tstzrange(p_from, p_to)
$$;

-- Seconds a set of ranges spans (finite ranges only).
CREATE FUNCTION dt_range_seconds(p_ranges tstzmultirange) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0)::double precision
    FROM unnest(p_ranges) AS r
$$;

-- ---------------------------------------------------------------- major hidden dangers

CREATE TABLE major_hazards (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code  text NOT NULL,
    adcode       text NOT NULL,
    system_code  text,                             -- NULL: the plant, not one system
    item         text NOT NULL CHECK (item ~ '^[A-Z][A-Z0-9_]*$'),  -- risk/hazards.py HAZARD_ITEMS
    description  text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    found_at     timestamptz NOT NULL,
    found_by     text NOT NULL,
    deadline     timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'OPEN'
                 CHECK (status IN ('OPEN', 'RECTIFYING', 'RECTIFIED', 'VERIFIED')),
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    rectified_at timestamptz,
    verified_at  timestamptz,
    verified_by  text,
    CONSTRAINT major_hazards_deadline CHECK (deadline > found_at)
);
COMMENT ON TABLE major_hazards IS
    'Major hidden dangers (重大事故隐患) with their rectification; open until a regulator verifies.';
-- The same danger on the same system is one record until it is verified (no duplicates when
-- the regulator and the enterprise both record it).
CREATE UNIQUE INDEX major_hazards_one_open_idx
    ON major_hazards (credit_code, (coalesce(system_code, '')), item) WHERE status <> 'VERIFIED';
CREATE INDEX major_hazards_adcode_idx ON major_hazards (adcode text_pattern_ops, found_at DESC);

CREATE TABLE hazard_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_id   bigint NOT NULL REFERENCES major_hazards (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,  -- recorded, started, rectified, verified, reopened, extended
    from_status text,
    to_status   text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX hazard_history_hazard_idx ON hazard_history (hazard_id, at);

-- ---------------------------------------------------------------- the twins' audit trail

-- Every change of a twin's registered data (attributes), soft deletion and restoration, with
-- who made it: the store sets the transaction-local "dusttwin.actor" before writing; writes
-- without it (the platform's own jobs, the CLI) are recorded as "system".
CREATE TABLE thing_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    thing_id    text NOT NULL,
    kind        text NOT NULL,
    credit_code text,
    adcode      text,
    op          text NOT NULL CHECK (op IN ('created', 'changed', 'deleted', 'restored', 'purged')),
    revision    bigint,
    changes     jsonb NOT NULL DEFAULT '{}'   -- {key: {"old": value, "new": value}}
);
COMMENT ON TABLE thing_changes IS 'Audit trail (配置变更记录) of twins'' registered data.';
CREATE INDEX thing_changes_credit_code_idx ON thing_changes (credit_code, at DESC, id DESC);
CREATE INDEX thing_changes_thing_idx ON thing_changes (thing_id, at DESC);

-- Top-level keys whose values differ, with both values (null: absent on that side).
CREATE FUNCTION dt_attribute_diff(p_old jsonb, p_new jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('old', p_old -> k, 'new', p_new -> k)),
                    '{}'::jsonb)
    FROM (SELECT jsonb_object_keys(p_old) UNION SELECT jsonb_object_keys(p_new)) AS keys(k)
    WHERE p_old -> k IS DISTINCT FROM p_new -> k
$$;

CREATE FUNCTION dt_record_thing_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    actor text := coalesce(nullif(current_setting('dusttwin.actor', true), ''), 'system');
    op text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO thing_changes (actor, thing_id, kind, credit_code, adcode, op, revision, changes)
        VALUES (actor, NEW.thing_id, NEW.kind, NEW.credit_code, NEW.adcode, 'created', NEW.revision,
                dt_attribute_diff('{}', NEW.attributes));
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO thing_changes (actor, thing_id, kind, credit_code, adcode, op, revision, changes)
        VALUES (actor, OLD.thing_id, OLD.kind, OLD.credit_code, OLD.adcode, 'purged', OLD.revision,
                dt_attribute_diff(OLD.attributes, '{}'));
        RETURN NULL;
    END IF;
    op := CASE
        WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN 'deleted'
        WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN 'restored'
        ELSE 'changed' END;
    INSERT INTO thing_changes (actor, thing_id, kind, credit_code, adcode, op, revision, changes)
    VALUES (actor, NEW.thing_id, NEW.kind, NEW.credit_code, NEW.adcode, op, NEW.revision,
            dt_attribute_diff(OLD.attributes, NEW.attributes));
    RETURN NULL;
END
$$;

CREATE TRIGGER things_audit_insert_delete AFTER INSERT OR DELETE ON things
    FOR EACH ROW EXECUTE FUNCTION dt_record_thing_change();
-- Ingest updates features thousands of times a second: the WHEN clause is checked without
-- calling the function, so such an update costs one comparison of the attributes and no more.
CREATE TRIGGER things_audit_update AFTER UPDATE ON things
    FOR EACH ROW
    WHEN (OLD.attributes IS DISTINCT FROM NEW.attributes
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION dt_record_thing_change();
