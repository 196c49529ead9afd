-- The image consent register (undersign_core::consent, undersign_core::pupils): pupils from
-- the MIS, and every consent given or withdrawn, never updated. Each row is recorded by a
-- ledger entry that `undersign verify` checks; for a pupil the entry keeps only a salted
-- fingerprint of their details (`salt` here), never a child's name.

CREATE TABLE pupils (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    mis_id      TEXT NOT NULL,
    full_name   TEXT NOT NULL,
    year_group  TEXT NOT NULL,
    class_name  TEXT,
    contacts    TEXT NOT NULL,
    on_roll     INTEGER NOT NULL,
    salt        TEXT NOT NULL,
    CONSTRAINT pupils_school_id_id_key UNIQUE (school_id, id),
    CONSTRAINT pupils_school_mis_key UNIQUE (school_id, mis_id)
);

CREATE TABLE consents (
    id           INTEGER PRIMARY KEY,
    school_id    INTEGER NOT NULL,
    pupil_id     INTEGER,
    person_id    INTEGER,
    channel      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('given', 'withdrawn')),
    source       TEXT NOT NULL,
    recorded_by  INTEGER,
    at           TEXT NOT NULL,
    expires      TEXT,
    CHECK ((pupil_id IS NULL) <> (person_id IS NULL)),
    FOREIGN KEY (school_id, pupil_id) REFERENCES pupils (school_id, id),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, recorded_by) REFERENCES people (school_id, id)
);
CREATE INDEX consents_pupil_idx ON consents (school_id, pupil_id);
CREATE INDEX consents_person_idx ON consents (school_id, person_id);
