-- 001_initial.sql — accounts, rooms, meetings, participations and chat.

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  email         text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
  password_hash text NOT NULL CHECK (password_hash LIKE '$2b$%'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
COMMENT ON TABLE users IS 'Registered accounts; passwords as bcrypt hashes only';

CREATE TABLE sessions (
  token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
COMMENT ON TABLE sessions IS 'Login tokens, stored only as SHA-256 hashes, with an expiry';

CREATE TABLE rooms (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code          text NOT NULL UNIQUE CHECK (code ~ '^[a-z]{3}-[a-z]{4}-[a-z]{3}$'),
  title         text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  mode          text NOT NULL CHECK (mode IN ('meeting', 'lecture')),
  allow_guests  boolean NOT NULL,
  host_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rooms_host_idx ON rooms (host_id);
COMMENT ON TABLE rooms IS 'Rooms, each with a Meet-style code and a host';

CREATE TABLE meetings (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id     bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  started_at  timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz,
  CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX meetings_one_open_per_room ON meetings (room_id) WHERE ended_at IS NULL;
COMMENT ON TABLE meetings IS 'One meeting per stretch of a room being in use: first join to last leave';

CREATE TABLE participations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  meeting_id    bigint NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
  user_id       bigint REFERENCES users (id) ON DELETE SET NULL,
  display_name  text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 64),
  role          text NOT NULL CHECK (role IN ('host', 'participant', 'guest')),
  joined_at     timestamptz NOT NULL DEFAULT now(),
  left_at       timestamptz,
  left_reason   text CHECK (left_reason IN ('left', 'timeout', 'removed', 'shutdown')),
  CHECK ((left_at IS NULL) = (left_reason IS NULL)),
  CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX participations_meeting_idx ON participations (meeting_id);
CREATE INDEX participations_user_idx ON participations (user_id);
COMMENT ON TABLE participations IS 'Who was in which meeting, from when to when';

CREATE TABLE chat_messages (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id          bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  participation_id uuid REFERENCES participations (id) ON DELETE SET NULL,
  display_name     text NOT NULL,
  body             text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
  sent_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_room_idx ON chat_messages (room_id, id);
COMMENT ON TABLE chat_messages IS 'Chat messages of a room, kept across its meetings';

CREATE FUNCTION iso8601(t timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
COMMENT ON FUNCTION iso8601(timestamptz) IS 'A timestamp as the API shows it: UTC, ISO 8601, milliseconds';
