-- A session also ends when it has not been used for a while (core::store::SESSION_IDLE):
-- its last use is noted here, at most every few minutes. NULL (older sessions) reads as
-- the time it was created.
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMPTZ;
