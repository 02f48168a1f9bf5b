-- Dust cleaning (粉尘清扫打卡, domain.md §5): plans per enterprise, the tasks generated from them,
-- check-ins with their photos. Photos are a table of their own (the bytes live in the photo
-- store: a directory or an S3 bucket) so that later workflows (alarm feedback, maintenance
-- filings) attach theirs the same way. Plain SQL: the same in TimescaleDB and plain mode.

-- A cleaning plan (清扫计划): which area, how often, in which window, how, by whom.
CREATE TABLE cleaning_plans (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code       text NOT NULL,
    adcode            text NOT NULL,               -- the enterprise's, for jurisdiction checks
    area              text NOT NULL,               -- 清扫部位, e.g. "1#打磨车间 梁架"
    area_kind         text NOT NULL DEFAULT 'other'
                      CHECK (area_kind IN ('workshop', 'station', 'equipment', 'collector',
                                           'duct', 'beams', 'other')),
    system_code       text,                        -- the dust-removal system it belongs to
    zone              smallint NOT NULL CHECK (zone IN (20, 21, 22)),
    frequency         text NOT NULL
                      CHECK (frequency IN ('per_shift', 'daily', 'weekly', 'monthly',
                                           'maintenance')),
    window_start      time,                        -- China time; NULL for per_shift
    window_minutes    integer CHECK (window_minutes > 0),
    weekday           smallint CHECK (weekday BETWEEN 1 AND 7),       -- weekly: ISO weekday
    month_day         smallint CHECK (month_day BETWEEN 1 AND 28),    -- monthly
    -- explosion-proof vacuum or wet cleaning; compressed-air blowing is never a method
    method            text NOT NULL CHECK (method IN ('explosion_proof_vacuum', 'wet')),
    responsible       text NOT NULL,
    responsible_phone text,
    photos_required   boolean NOT NULL DEFAULT true,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        text NOT NULL
);
COMMENT ON TABLE cleaning_plans IS 'Dust cleaning plans (清扫计划) per enterprise and area.';
CREATE INDEX cleaning_plans_enterprise_idx ON cleaning_plans (credit_code) WHERE active;

-- One window of one plan (清扫任务). Unique per plan and window start, so generating tasks
-- again (the scheduler's job, or two schedulers) never makes a second task.
CREATE TABLE cleaning_tasks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id       bigint NOT NULL REFERENCES cleaning_plans (id) ON DELETE CASCADE,
    credit_code   text NOT NULL,
    adcode        text NOT NULL,
    area          text NOT NULL,                   -- the plan's, when the task was made
    zone          smallint NOT NULL,
    system_code   text,
    kind          text NOT NULL DEFAULT 'scheduled'
                  CHECK (kind IN ('scheduled', 'before_maintenance', 'after_maintenance')),
    ref           text,                            -- the maintenance filing, for those tasks
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'PENDING'
                  CHECK (state IN ('PENDING', 'DONE', 'LATE', 'OVERDUE')),
    checked_in_at timestamptz,
    overdue_at    timestamptz,                     -- when it was found overdue (once)
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (window_end > window_start),
    UNIQUE (plan_id, window_start)
);
COMMENT ON TABLE cleaning_tasks IS 'Cleaning tasks (清扫任务): one per plan and window.';
CREATE INDEX cleaning_tasks_enterprise_idx ON cleaning_tasks (credit_code, window_end);
CREATE INDEX cleaning_tasks_adcode_idx ON cleaning_tasks (adcode text_pattern_ops, window_end);
CREATE INDEX cleaning_tasks_window_end_idx ON cleaning_tasks (window_end);
CREATE INDEX cleaning_tasks_pending_idx ON cleaning_tasks (window_end) WHERE state = 'PENDING';

-- A check-in (打卡): who cleaned, when the server received it, whether it was late.
CREATE TABLE cleaning_checkins (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id       bigint NOT NULL UNIQUE REFERENCES cleaning_tasks (id) ON DELETE CASCADE,
    credit_code   text NOT NULL,
    adcode        text NOT NULL,
    operator      text NOT NULL,                   -- who cleaned (named, or the user)
    checked_in_by text NOT NULL,                   -- the logged-in user who submitted it
    checked_in_at timestamptz NOT NULL,            -- server time, never the phone's
    late          boolean NOT NULL,
    remarks       text
);
CREATE INDEX cleaning_checkins_enterprise_idx ON cleaning_checkins (credit_code, checked_in_at);

-- Every stored photo: the key in the photo store, what it is, and whose jurisdiction it is in.
CREATE TABLE photos (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key          text NOT NULL UNIQUE,
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    size         integer NOT NULL CHECK (size > 0),
    sha256       text NOT NULL,
    credit_code  text NOT NULL,
    adcode       text NOT NULL,
    exif_time    timestamptz,                      -- when the camera says it was taken
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL,
    kind         text NOT NULL,                    -- cleaning_before, cleaning_after, ...
    ref          text                              -- what it belongs to (the task id, ...)
);
COMMENT ON TABLE photos IS 'Photos (照片) kept in the photo store, with their jurisdiction keys.';
CREATE INDEX photos_ref_idx ON photos (kind, ref);
CREATE INDEX photos_enterprise_idx ON photos (credit_code, uploaded_at DESC);
