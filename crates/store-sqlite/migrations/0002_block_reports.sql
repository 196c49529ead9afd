-- Reports from the block page that something was blocked wrongly, for the network manager.
CREATE TABLE block_reports (
    id           INTEGER PRIMARY KEY,
    school_id    INTEGER NOT NULL REFERENCES schools (id),
    url          TEXT NOT NULL,
    message      TEXT NOT NULL,
    client       TEXT NOT NULL,
    proxy_user   TEXT NOT NULL,
    reason       TEXT NOT NULL,
    reporter_id  INTEGER,
    reported_at  TEXT NOT NULL,
    FOREIGN KEY (school_id, reporter_id) REFERENCES people (school_id, id)
);
CREATE INDEX block_reports_school_idx ON block_reports (school_id, reported_at);
