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
    updated_by                INTEGER NOT NULL,
    updated_at                TEXT NOT NULL,
    FOREIGN KEY (school_id, updated_by) REFERENCES people (school_id, id)
);
