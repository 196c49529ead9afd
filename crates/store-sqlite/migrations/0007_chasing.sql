-- Chasing signatures. chase_settings: a school's reminder and escalation schedule, in
-- days counted from when a person was asked to sign (3 / 7 / 10 / 20 without a row).
-- school_holidays: the days besides weekends when no reminders or digests are sent, as
-- named ranges of dates (YYYY-MM-DD text), both ends included. Kept column for column
-- like the PostgreSQL schema.

CREATE TABLE chase_settings (
    school_id                 INTEGER PRIMARY KEY REFERENCES schools (id),
    first_reminder_days       INTEGER NOT NULL CHECK (first_reminder_days BETWEEN 1 AND 365),
    reminder_every_days       INTEGER NOT NULL CHECK (reminder_every_days BETWEEN 1 AND 365),
    escalate_to_manager_days  INTEGER NOT NULL CHECK (escalate_to_manager_days BETWEEN 1 AND 365),
    escalate_to_head_days     INTEGER NOT NULL CHECK (escalate_to_head_days BETWEEN 1 AND 365),
    -- NULL when set by the operator from the command line
    updated_by                INTEGER,
    updated_at                TEXT NOT NULL,
    CONSTRAINT chase_settings_head_after_manager_check
        CHECK (escalate_to_head_days > escalate_to_manager_days),
    FOREIGN KEY (school_id, updated_by) REFERENCES people (school_id, id)
);

CREATE TABLE school_holidays (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    name        TEXT NOT NULL,
    first_day   TEXT NOT NULL,
    last_day    TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  TEXT NOT NULL,
    CONSTRAINT school_holidays_range_check CHECK (last_day >= first_day),
    FOREIGN KEY (school_id, updated_by) REFERENCES people (school_id, id)
);
CREATE INDEX school_holidays_school_idx ON school_holidays (school_id, first_day);
