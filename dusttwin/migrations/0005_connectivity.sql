-- Online and offline (protocol v1 §6; domain.md §2 离线): the upkeep decides, every 30 s, from data
-- activity only (rts and event; heartbeats do not count), and records each transition with its
-- time so that online rates can be computed exactly.

CREATE TABLE connectivity_events (
    thing_id text NOT NULL,
    at       timestamptz NOT NULL,
    online   boolean NOT NULL,
    PRIMARY KEY (thing_id, at)
);
COMMENT ON TABLE connectivity_events IS
    'Every online/offline transition of a gateway, point or enterprise twin, with its time.';

-- A twin's features with connectivity.online set (the other connectivity properties kept).
CREATE FUNCTION dt_with_online(p_features jsonb, p_online boolean, p_at timestamptz)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT p_features || jsonb_build_object('connectivity',
        coalesce(p_features -> 'connectivity', '{}'::jsonb) || jsonb_build_object('properties',
            coalesce(p_features #> '{connectivity,properties}', '{}'::jsonb)
            || jsonb_build_object('online', p_online, 'changed_at', p_at)))
$$;

-- Decide who is online at p_now; change and record only those whose state changed.
-- The window is max(3 × the gateway's upload period, 15 min); a point uses its gateway's.
CREATE FUNCTION dt_detect_offline(p_now timestamptz)
RETURNS TABLE (thing_id text, online boolean)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH gateways AS (
        SELECT g.thing_id, g.credit_code, g.attributes ->> 'gateway_id' AS gateway_id,
               greatest(3 * coalesce((g.attributes ->> 'upload_period_s')::int, 300), 900) AS window_s
        FROM things g WHERE g.kind = 'gateway' AND g.deleted_at IS NULL
    ), candidates AS (
        SELECT t.thing_id, t.kind, t.credit_code,
               coalesce((t.features #>> '{connectivity,properties,online}')::boolean, false) AS was,
               (t.features #>> '{connectivity,properties,last_seen}')::timestamptz AS last_seen,
               coalesce(gw.window_s, own.window_s, 900) AS window_s
        FROM things t
        LEFT JOIN gateways own ON own.thing_id = t.thing_id
        LEFT JOIN gateways gw ON t.kind = 'point' AND gw.credit_code = t.credit_code
             AND gw.gateway_id = t.attributes ->> 'gateway_id'
        WHERE t.kind IN ('gateway', 'point') AND t.deleted_at IS NULL
    ), verdicts AS (
        SELECT c.thing_id, c.was,
               c.last_seen IS NOT NULL AND c.last_seen > p_now - make_interval(secs => c.window_s)
                   AS is_online,
               -- when it happened: online with the newest data seen, offline when the window
               -- after the last data closed
               least(p_now, coalesce(c.last_seen + CASE
                   WHEN c.last_seen > p_now - make_interval(secs => c.window_s) THEN interval '0'
                   ELSE make_interval(secs => c.window_s) END, p_now)) AS at
        FROM candidates c
    ), changed AS (
        UPDATE things t SET features = dt_with_online(t.features, v.is_online, v.at),
               revision = t.revision + 1, modified_at = now()
        FROM verdicts v
        WHERE t.thing_id = v.thing_id AND v.was IS DISTINCT FROM v.is_online
        RETURNING t.thing_id, v.is_online, v.at
    ), recorded AS (
        INSERT INTO connectivity_events (thing_id, at, online)
        SELECT c.thing_id, c.at, c.is_online FROM changed c
        ON CONFLICT DO NOTHING
    )
    SELECT c.thing_id, c.is_online FROM changed c;

    -- an enterprise is online while any of its gateways is
    RETURN QUERY
    WITH verdicts AS (
        SELECT e.thing_id,
               coalesce((e.features #>> '{connectivity,properties,online}')::boolean, false) AS was,
               EXISTS (SELECT 1 FROM things g WHERE g.kind = 'gateway' AND g.deleted_at IS NULL
                       AND g.credit_code = e.credit_code
                       AND (g.features #>> '{connectivity,properties,online}')::boolean) AS is_online
        FROM things e WHERE e.kind = 'enterprise' AND e.deleted_at IS NULL
    ), changed AS (
        UPDATE things t SET features = dt_with_online(t.features, v.is_online, p_now),
               revision = t.revision + 1, modified_at = now()
        FROM verdicts v
        WHERE t.thing_id = v.thing_id AND v.was IS DISTINCT FROM v.is_online
        RETURNING t.thing_id, v.is_online
    ), recorded AS (
        INSERT INTO connectivity_events (thing_id, at, online)
        SELECT c.thing_id, p_now, c.is_online FROM changed c
        ON CONFLICT DO NOTHING
    )
    SELECT c.thing_id, c.is_online FROM changed c;
END
$$;
