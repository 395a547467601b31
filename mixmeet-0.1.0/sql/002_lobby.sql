-- 002_lobby.sql — rooms whose host admits people ("Ask to join").

ALTER TABLE rooms ADD COLUMN lobby boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN rooms.lobby IS
  'Everyone but the host waits in the lobby until the host admits them';

-- Someone the host turned away from the lobby.
ALTER TABLE participations DROP CONSTRAINT participations_left_reason_check;
ALTER TABLE participations ADD CONSTRAINT participations_left_reason_check
  CHECK (left_reason IN ('left', 'timeout', 'removed', 'shutdown', 'denied'));
