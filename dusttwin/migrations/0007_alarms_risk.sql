-- Alarms and their closed loop (domain.md §3), limit-evaluation state, risk evaluations and
-- warnings (domain.md §4), and the event log that feeds GET /api/v1/events.

-- The limit evaluation's state per point (persistence timers, deadband, trend window): written in
-- the ingest transaction with the readings, so a restarted connector carries on where it stopped.
-- Written back only when it changed, with optimistic concurrency on ``revision``: when two
-- connectors evaluated readings of one point at once, the later writer's batch is rolled back and
-- evaluated again (SQLSTATE 40001), so no timer is lost to a race and no row is locked for reads.
CREATE TABLE limit_states (
    point_id   bigint PRIMARY KEY,
    state      jsonb NOT NULL,
    revision   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One abnormal condition on one twin (a point, a gateway, a camera, an enterprise).
CREATE TABLE alarms (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thing_id         text NOT NULL,
    point_id         bigint,                  -- things.id of the point, when on a point
    credit_code      text NOT NULL,
    adcode           text NOT NULL,
    system_code      text,
    indicator        text,
    alarm_type       text NOT NULL,           -- HIGH, LOW, RATE, SWITCH, ZERO_RUNNING, OVER_RANGE,
                                              -- FAULT, EXPLOSION, OFFLINE, PREDICTED, VIDEO, ...
    level            text NOT NULL,           -- EXPLOSION, HHA, HA, LA, LLA, FAULT, OVER_RANGE, ...
    mandatory        boolean NOT NULL DEFAULT false,
    state            text NOT NULL DEFAULT 'ACTIVE'
                     CHECK (state IN ('ACTIVE', 'HANDLING', 'FED_BACK', 'CLOSED', 'REJECTED')),
    condition_active boolean NOT NULL DEFAULT true,
    raised_at        timestamptz NOT NULL,    -- when the condition began (reading time)
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL,
    cleared_at       timestamptz,
    count            integer NOT NULL DEFAULT 1,
    first_value      double precision,
    peak_value       double precision,
    last_value       double precision,
    limit_value      double precision,
    predicted_at     timestamptz,             -- PREDICTED: when the limit is expected to be crossed
    backfilled       boolean NOT NULL DEFAULT false,
    suppressed       boolean NOT NULL DEFAULT false,  -- raised during approved maintenance
    ack_deadline     timestamptz NOT NULL,
    feedback_deadline timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    verification     text CHECK (verification IN ('REAL', 'FALSE_ALARM', 'DEVICE_FAULT', 'MAINTENANCE')),
    fed_back_at      timestamptz,
    fed_back_by      text,
    feedback         jsonb,                   -- {cause, measures, photos}
    closed_at        timestamptz,
    closed_by        text,
    detail           jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE alarms IS 'Alarms (报警) with their closed loop; at most one open per (twin, type).';
-- At most one open alarm per (twin, alarm type), enforced here so racing connectors cannot
-- create two: the writers insert with ON CONFLICT on this index.
CREATE UNIQUE INDEX alarms_one_open_idx ON alarms (thing_id, alarm_type) WHERE state <> 'CLOSED';
CREATE INDEX alarms_credit_code_idx ON alarms (credit_code, raised_at DESC);
CREATE INDEX alarms_adcode_idx ON alarms (adcode text_pattern_ops, raised_at DESC);
CREATE INDEX alarms_open_idx ON alarms (credit_code) WHERE state <> 'CLOSED';

-- Every step of an alarm's life: who, when, what.
CREATE TABLE alarm_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alarm_id   bigint NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    action     text NOT NULL,   -- raised, escalated, repeated, cleared, reactivated, acknowledged,
                                -- fed_back, closed, rejected, overdue
    actor      text NOT NULL,   -- a username, or "system"
    from_state text,
    to_state   text,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alarm_history_alarm_idx ON alarm_history (alarm_id, at);

-- Enterprises whose risk must be evaluated again (an alarm changed): the debounce. A burst of
-- alarm changes leaves one row; the scheduler turns rows into one RQ job each. Written in the
-- ingest transaction, so nothing depends on Redis being up.
CREATE TABLE risk_pending (
    credit_code text PRIMARY KEY,
    since       timestamptz NOT NULL DEFAULT now()
);

-- Risk evaluations (风险研判): a new row whenever the result changes; an unchanged repeat only
-- moves confirmed_at, so the history of a level is exact without a row per five minutes.
CREATE TABLE risk_evaluations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code   text NOT NULL,
    adcode        text NOT NULL,
    evaluated_at  timestamptz NOT NULL,
    confirmed_at  timestamptz NOT NULL,
    score         double precision NOT NULL,
    level         text NOT NULL CHECK (level IN ('red', 'orange', 'yellow', 'blue')),
    model_version text NOT NULL,
    result        jsonb NOT NULL,     -- components, contributions, overrides
    fingerprint   text NOT NULL
);
CREATE INDEX risk_evaluations_enterprise_idx ON risk_evaluations (credit_code, evaluated_at DESC);
CREATE INDEX risk_evaluations_adcode_idx ON risk_evaluations (adcode text_pattern_ops, evaluated_at DESC);

-- Warnings (预警): one open per (enterprise, trigger).
CREATE TABLE warnings (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code        text NOT NULL,
    adcode             text NOT NULL,
    trigger            text NOT NULL,     -- level_rise, red, alarm_overdue, offline
    level              text NOT NULL,
    state              text NOT NULL DEFAULT 'OPEN'
                       CHECK (state IN ('OPEN', 'ACKNOWLEDGED', 'FED_BACK', 'CLEARED')),
    raised_at          timestamptz NOT NULL,
    tier               text NOT NULL,     -- the regulator tier now responsible
    tier_adcode        text NOT NULL,
    ack_deadline       timestamptz NOT NULL,
    feedback_deadline  timestamptz NOT NULL,
    followup_deadline  timestamptz,
    acknowledged_at    timestamptz,
    acknowledged_by    text,
    fed_back_at        timestamptz,
    fed_back_by        text,
    feedback           jsonb,
    cleared_at         timestamptz,
    cleared_by         text,
    evaluation_id      bigint REFERENCES risk_evaluations (id),
    detail             jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX warnings_one_open_idx ON warnings (credit_code, trigger) WHERE state <> 'CLEARED';
CREATE INDEX warnings_adcode_idx ON warnings (adcode text_pattern_ops, raised_at DESC);

CREATE TABLE warning_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    warning_id bigint NOT NULL REFERENCES warnings (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    action     text NOT NULL,     -- raised, acknowledged, fed_back, escalated, cleared
    actor      text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX warning_history_warning_idx ON warning_history (warning_id, at);

-- The live event log (GET /api/v1/events): alarm raised/cleared/acknowledged, warning
-- raised/escalated, risk level changed, twin online/offline. Writers insert their events last
-- in their transaction under a transaction-scoped advisory lock (risk/events.py), so ids become
-- visible in increasing order and a client resuming after Last-Event-ID misses none. Kept a day.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    thing_id    text,
    credit_code text,
    adcode      text,
    data        jsonb NOT NULL
);
CREATE INDEX events_at_idx ON events (at);

CREATE FUNCTION dt_notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dusttwin_events', NEW.id::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION dt_notify_event();

-- Webhook subscriptions of regulators (HMAC-signed deliveries, retried).
CREATE TABLE webhooks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    url        text NOT NULL,
    secret     text NOT NULL,
    kinds      text[] NOT NULL DEFAULT '{}',    -- empty: every kind
    created_at timestamptz NOT NULL DEFAULT now(),
    last_event_id bigint NOT NULL DEFAULT 0,   -- delivered up to here, in order
    failures   integer NOT NULL DEFAULT 0,      -- consecutive failed attempts
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    disabled   boolean NOT NULL DEFAULT false
);

-- Daily statistics per enterprise and per region (online rate, completeness, alarm counts),
-- recomputed by an idempotent job; today's row is partial until the day ends.
CREATE TABLE daily_stats (
    day           date NOT NULL,            -- China day (UTC+8)
    scope_kind    text NOT NULL CHECK (scope_kind IN ('enterprise', 'region')),
    scope_key     text NOT NULL,            -- credit code or adcode
    adcode        text NOT NULL,
    online_rate   double precision,         -- share of the (elapsed) day online, 0..1
    completeness  double precision,         -- readings received / expected, 0..1
    alarms        integer NOT NULL DEFAULT 0,
    alarms_by_level jsonb NOT NULL DEFAULT '{}',
    enterprises   integer NOT NULL DEFAULT 1,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, scope_kind, scope_key)
);
