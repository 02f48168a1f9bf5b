-- Registry on the twin store: twin kinds, jurisdiction keys, soft delete, change notifications,
-- users with roles and scopes, integrators' grants, gateways' issued secrets.

-- Every twin of the dusttwin namespace is "dusttwin:{kind}-{key}"; other namespaces are "other".
ALTER TABLE things
    ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    ADD COLUMN kind text GENERATED ALWAYS AS (
        CASE WHEN thing_id ~ '^dusttwin:(region|enterprise|system|gateway|point|camera)-'
             THEN substring(thing_id FROM '^dusttwin:([a-z]+)-')
             ELSE 'other' END) STORED,
    -- jurisdiction keys: every twin under an enterprise carries its enterprise's adcode and
    -- credit code in its attributes (the registry keeps them in step)
    ADD COLUMN adcode text GENERATED ALWAYS AS (attributes ->> 'adcode') STORED,
    ADD COLUMN credit_code text GENERATED ALWAYS AS (attributes ->> 'credit_code') STORED,
    ADD COLUMN deleted_at timestamptz;

COMMENT ON COLUMN things.id IS 'Compact id of the twin; readings.point_id is the id of a point twin.';
COMMENT ON COLUMN things.deleted_at IS 'Soft delete: hidden from every API, history kept.';

CREATE INDEX things_kind_adcode_idx ON things (kind, adcode text_pattern_ops) WHERE deleted_at IS NULL;
CREATE INDEX things_credit_code_idx ON things (credit_code, kind) WHERE deleted_at IS NULL;
CREATE INDEX things_attributes_gin ON things USING gin (attributes jsonb_path_ops);
CREATE INDEX things_modified_idx ON things (modified_at);

-- Processes holding the hierarchy graph follow changes through NOTIFY. The payload is
-- "op:thingId" without the revision, so that the many updates of one thing in one transaction
-- collapse into one notification.
CREATE FUNCTION dt_notify_thing_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dusttwin_things', 'delete:' || OLD.thing_id);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('dusttwin_things', 'upsert:' || NEW.thing_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER things_notify AFTER INSERT OR UPDATE OR DELETE ON things
    FOR EACH ROW EXECUTE FUNCTION dt_notify_thing_change();

CREATE TABLE users (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.@-]{3,64}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'regulator', 'enterprise', 'integrator')),
    -- regulator: an adcode (000000 = the Ministry, the whole country); enterprise: a credit code
    scope         text,
    display_name  text,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_scope_fits_role CHECK (
        (role = 'regulator' AND scope ~ '^\d{6}$')
        OR (role = 'enterprise' AND scope ~ '^[0-9A-Z]{18}$')
        OR (role IN ('admin', 'integrator') AND scope IS NULL))
);

-- An enterprise engages an integrator: the integrator then sees and configures that enterprise.
CREATE TABLE integrator_grants (
    username    text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    credit_code text NOT NULL,
    granted_by  text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, credit_code)
);
CREATE INDEX integrator_grants_credit_code_idx ON integrator_grants (credit_code);

-- A gateway's password is shown once at registration; only its hash stays (for HTTP ingest).
CREATE TABLE gateway_secrets (
    thing_id      text PRIMARY KEY REFERENCES things (thing_id) ON DELETE CASCADE,
    mqtt_username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    issued_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
