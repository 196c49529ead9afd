-- The block page's reports: the address the report came from, as the server saw it (what
-- the throttle counts); `client` stays what the page's link claimed.
ALTER TABLE block_reports ADD COLUMN sent_from TEXT NOT NULL DEFAULT '';
CREATE INDEX block_reports_sent_from_idx ON block_reports (school_id, sent_from, reported_at);
