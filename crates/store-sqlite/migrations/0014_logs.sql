-- Squid's access log. The device register (who had which address, who held which device,
-- over time) that attribution reads; each log source's cursor, so that a file or journal
-- segment is stored once; the catalog of detail partitions; and the daily totals.
--
-- The detail itself is in one table per school, class and period, created as logs arrive
-- (`log_<class>_s<school>_<yyyymmdd>`, columns as in `store-sql/logs.rs`) and dropped
-- whole by retention. On PostgreSQL the same tables are declarative partitions of
-- `log_<class>`; here they are plain tables listed in `log_partitions`.

CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CONSTRAINT devices_school_id_name_key UNIQUE (school_id, name),
    CONSTRAINT devices_school_id_id_key UNIQUE (school_id, id)
);

-- The address a device had: from the register (open until changed) or a DHCP lease.
CREATE TABLE device_addresses (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL,
    device_id   INTEGER NOT NULL,
    address     TEXT NOT NULL,
    from_at     TEXT NOT NULL,
    until_at    TEXT,
    source      TEXT NOT NULL CHECK (source IN ('register', 'dhcp')),
    CONSTRAINT device_addresses_device_id_address_from_at_key UNIQUE (device_id, address, from_at),
    FOREIGN KEY (school_id, device_id) REFERENCES devices (school_id, id)
);
CREATE INDEX device_addresses_school_idx ON device_addresses (school_id);

-- Who held a device (person_id NULL: nobody).
CREATE TABLE device_holders (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL,
    device_id   INTEGER NOT NULL,
    person_id   INTEGER,
    from_at     TEXT NOT NULL,
    until_at    TEXT,
    FOREIGN KEY (school_id, device_id) REFERENCES devices (school_id, id),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id)
);
CREATE INDEX device_holders_school_idx ON device_holders (school_id);

-- One log file (named by its first line) or journal segment, and how many of its lines
-- are stored.
CREATE TABLE log_sources (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    source      TEXT NOT NULL,
    lines       INTEGER NOT NULL CHECK (lines >= 0),
    updated_at  TEXT NOT NULL,
    CONSTRAINT log_sources_school_id_source_key UNIQUE (school_id, source)
);

CREATE TABLE log_partitions (
    school_id     INTEGER NOT NULL REFERENCES schools (id),
    class         TEXT NOT NULL CHECK (class IN ('routine', 'blocked', 'safeguarding')),
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    table_name    TEXT NOT NULL UNIQUE,
    row_count     INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (school_id, class, period_start)
);

-- Requests per day × person × device × category × class (0: none), kept apart from the
-- detail for reports.
CREATE TABLE log_daily (
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    day         TEXT NOT NULL,
    person_id   INTEGER NOT NULL,
    device_id   INTEGER NOT NULL,
    category    TEXT NOT NULL,
    class       TEXT NOT NULL,
    requests    INTEGER NOT NULL,
    denied      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    PRIMARY KEY (school_id, day, person_id, device_id, category, class)
);

-- Requests per day × site.
CREATE TABLE log_sites_daily (
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    day         TEXT NOT NULL,
    host        TEXT NOT NULL,
    requests    INTEGER NOT NULL,
    denied      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    PRIMARY KEY (school_id, day, host)
);

-- How long each class of request is kept, and which categories count as safeguarding
-- (JSON list of category names, besides the rules' illegal-content categories). A school
-- without a row has the defaults of `logs::LogSettings`.
CREATE TABLE log_settings (
    school_id                 INTEGER PRIMARY KEY REFERENCES schools (id),
    routine_days              INTEGER NOT NULL CHECK (routine_days BETWEEN 1 AND 3650),
    blocked_days              INTEGER NOT NULL CHECK (blocked_days BETWEEN 1 AND 3650),
    safeguarding_days         INTEGER NOT NULL CHECK (safeguarding_days BETWEEN 1 AND 36500),
    safeguarding_categories   TEXT NOT NULL,
    -- who decides the headteacher's own requests for someone's log (the chair of
    -- governors, say); never the headteacher
    head_requests_decider     INTEGER,
    -- whether search terms are kept (off unless the school turns it on)
    search_terms              INTEGER NOT NULL DEFAULT 0,
    updated_by                INTEGER NOT NULL,
    updated_at                TEXT NOT NULL,
    FOREIGN KEY (school_id, updated_by) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, head_requests_decider) REFERENCES people (school_id, id)
);

-- Requests to see a person's log (docs/logs.md, "Disclosure"): by their line manager or
-- the headteacher, decided by the headteacher (or, for the headteacher's own requests, the
-- person named in log_settings), read-only until open_until, every view recorded.
CREATE TABLE disclosures (
    id             INTEGER PRIMARY KEY,
    school_id      INTEGER NOT NULL,
    subject_id     INTEGER NOT NULL,
    requested_by   INTEGER NOT NULL,
    requested_at   TEXT NOT NULL,
    from_day       TEXT NOT NULL,
    to_day         TEXT NOT NULL,
    reason         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('requested', 'approved', 'declined', 'withdrawn', 'expired')),
    decided_by     INTEGER,
    decided_at     TEXT,
    decision_note  TEXT,
    open_until     TEXT,
    notice_from    TEXT,
    notice_reason  TEXT,
    CONSTRAINT disclosures_school_id_id_key UNIQUE (school_id, id),
    CHECK (subject_id <> requested_by),
    CHECK (decided_by IS NULL OR decided_by <> requested_by),
    FOREIGN KEY (school_id, subject_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, requested_by) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, decided_by) REFERENCES people (school_id, id)
);
CREATE INDEX disclosures_subject_idx ON disclosures (school_id, subject_id);

CREATE TABLE disclosure_views (
    id             INTEGER PRIMARY KEY,
    school_id      INTEGER NOT NULL,
    disclosure_id  INTEGER NOT NULL,
    viewed_by      INTEGER NOT NULL,
    viewed_at      TEXT NOT NULL,
    what           TEXT NOT NULL CHECK (what IN ('page', 'csv', 'pdf')),
    FOREIGN KEY (school_id, disclosure_id) REFERENCES disclosures (school_id, id),
    FOREIGN KEY (school_id, viewed_by) REFERENCES people (school_id, id)
);
CREATE INDEX disclosure_views_idx ON disclosure_views (school_id, disclosure_id);

-- Safeguarding alerts for the DSL: one per subject (person, else device, else address),
-- category and day while open; closed with what was done and the outcome.
CREATE TABLE safeguarding_alerts (
    id           INTEGER PRIMARY KEY,
    school_id    INTEGER NOT NULL REFERENCES schools (id),
    subject_key  TEXT NOT NULL,
    day          TEXT NOT NULL,
    raised_at    TEXT NOT NULL,
    request_at   TEXT NOT NULL,
    category     TEXT NOT NULL,
    url          TEXT NOT NULL,
    client       TEXT NOT NULL,
    person_id    INTEGER,
    device_id    INTEGER,
    closed_by    INTEGER,
    closed_at    TEXT,
    action       TEXT,
    outcome      TEXT,
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, closed_by) REFERENCES people (school_id, id)
);
CREATE INDEX safeguarding_alerts_open_idx ON safeguarding_alerts (school_id, subject_key, category, day);
