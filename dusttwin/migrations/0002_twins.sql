-- Digital twins kept as Eclipse Ditto things (protocol v1 §2): the embedded TwinStore.
-- thingId is "namespace:name"; attributes hold registered data, features the live state.

CREATE TABLE things (
    thing_id    text PRIMARY KEY CHECK (thing_id ~ '^[A-Za-z0-9_.-]+:[^/?#\s]+$'),
    namespace   text GENERATED ALWAYS AS (split_part(thing_id, ':', 1)) STORED,
    policy_id   text NOT NULL,
    definition  text,
    attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
    features    jsonb NOT NULL DEFAULT '{}'::jsonb,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE things IS 'Twins of regions, enterprises, systems, gateways, points and cameras.';
CREATE INDEX things_parent_idx ON things ((attributes ->> 'parent'));
CREATE INDEX things_definition_idx ON things (definition);
