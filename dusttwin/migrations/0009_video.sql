-- Video (domain.md §7): the snapshots of video AI alarms (视频AI报警抓图), ≤ 500 KB JPEG each.
-- A camera's links and its connectivity live in its twin (attributes.live, playback_template;
-- features.connectivity); its online/offline transitions go to connectivity_events like any twin's.

CREATE TABLE video_snapshots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thing_id     text NOT NULL,                     -- the camera twin
    credit_code  text NOT NULL,
    adcode       text NOT NULL,
    alarm_id     bigint REFERENCES alarms (id) ON DELETE SET NULL,
    alarm_kind   text NOT NULL,                     -- what the video AI saw: smoke, fire, ...
    taken_at     timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    content_type text NOT NULL CHECK (content_type = 'image/jpeg'),
    bytes        bytea NOT NULL CHECK (octet_length(bytes) BETWEEN 1 AND 512000),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE video_snapshots IS
    'Snapshots of video AI alarms (视频AI报警抓图), JPEG ≤ 500 KB, with the alarm they belong to.';
-- a gateway that posts the same alarm again (a retry after a lost reply) stores it once
CREATE UNIQUE INDEX video_snapshots_once_idx ON video_snapshots (thing_id, taken_at, sha256);
CREATE INDEX video_snapshots_alarm_idx ON video_snapshots (alarm_id);
CREATE INDEX video_snapshots_scope_idx ON video_snapshots (adcode, credit_code);
