-- 003_recordings.sql — recordings of a room's composite and mix.

CREATE TABLE recordings (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  room_id         bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  meeting_id      bigint REFERENCES meetings (id) ON DELETE SET NULL,
  started_by      bigint REFERENCES users (id) ON DELETE SET NULL,
  started_by_name text NOT NULL CHECK (char_length(started_by_name) BETWEEN 1 AND 64),
  -- The file's name in the data directory's recordings/ (never a path).
  file            text NOT NULL UNIQUE CHECK (file ~ '^[A-Za-z0-9-]{1,80}\.webm$'),
  started_at      timestamptz NOT NULL,
  ended_at        timestamptz,
  duration_ms     bigint CHECK (duration_ms >= 0),
  bytes           bigint CHECK (bytes >= 0),
  -- recording: being written; complete: finished by the server;
  -- interrupted: the server stopped without finishing it (a crash): the
  -- file plays up to its last complete cluster.
  status          text NOT NULL CHECK (status IN ('recording', 'complete', 'interrupted')),
  CHECK (ended_at IS NULL OR ended_at >= started_at),
  CHECK ((status = 'recording') = (ended_at IS NULL))
);
CREATE INDEX recordings_room_idx ON recordings (room_id, started_at);
CREATE INDEX recordings_meeting_idx ON recordings (meeting_id);
COMMENT ON TABLE recordings IS 'Recordings (WebM files in the data directory) and who started them';
