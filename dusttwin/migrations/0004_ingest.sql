-- Ingest: exactly-once bookkeeping, device events, dead letters and per-gateway counts.

-- msg_ids seen per gateway (protocol v1 §4: a message seen again is not stored twice). Kept a
-- week by the upkeep job; readings are exactly-once by (point_id, time) in any case.
CREATE TABLE ingest_messages (
    gateway     text NOT NULL,
    msg_id      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, msg_id)
);
CREATE INDEX ingest_messages_received_idx ON ingest_messages (received_at);

-- Device events (protocol v1 §5), as they arrived; the alarm rules read them.
SELECT dt_create_timeseries_table(
    'device_events',
    'time timestamptz NOT NULL, point_id bigint NOT NULL, type text NOT NULL, '
    'value double precision, content text, backfilled boolean NOT NULL DEFAULT false, '
    'received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (point_id, time, type)',
    'time', interval '30 days');

-- Dead letters: every refused message or entry, with the raw payload, so an integrator can see
-- why its data is not arriving (GET /api/v1/gateways/.../diagnostics).
CREATE TABLE ingest_rejections (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    gateway     text NOT NULL,          -- "{credit_code}.{gateway_id}" as the topic or path named it
    transport   text NOT NULL CHECK (transport IN ('mqtt', 'http', 'adapter')),
    kind        text NOT NULL,          -- rts, event, heartbeat, state
    msg_id      text,
    whole       boolean NOT NULL,       -- the whole message was refused
    rejected    jsonb NOT NULL,         -- [{index, code, reason}]
    raw         bytea NOT NULL
);
CREATE INDEX ingest_rejections_gateway_idx ON ingest_rejections (gateway, received_at DESC);

-- Messages and entries accepted and refused per gateway and minute.
CREATE TABLE ingest_stats (
    gateway  text NOT NULL,
    minute   timestamptz NOT NULL,
    messages integer NOT NULL DEFAULT 0,
    accepted integer NOT NULL DEFAULT 0,
    rejected integer NOT NULL DEFAULT 0,
    last_message_at timestamptz,
    PRIMARY KEY (gateway, minute)
);
