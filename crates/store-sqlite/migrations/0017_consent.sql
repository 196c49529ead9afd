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

-- A check before images leave the school: who asked, the channel, what, each person's
-- answer at the time, the verdict; and, once published, when and on whose permission.
CREATE TABLE publication_checks (
    id                  INTEGER PRIMARY KEY,
    school_id           INTEGER NOT NULL,
    checked_by          INTEGER NOT NULL,
    channel             TEXT NOT NULL,
    description         TEXT NOT NULL,
    at                  TEXT NOT NULL,
    verdict             TEXT NOT NULL CHECK (verdict IN ('clear', 'needs_permission', 'refused')),
    published_at        TEXT,
    permission_request  INTEGER,
    CONSTRAINT publication_checks_school_id_id_key UNIQUE (school_id, id),
    FOREIGN KEY (school_id, checked_by) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, permission_request) REFERENCES requests (school_id, id)
);

CREATE TABLE publication_check_people (
    id         INTEGER PRIMARY KEY,
    school_id  INTEGER NOT NULL,
    check_id   INTEGER NOT NULL,
    pupil_id   INTEGER,
    person_id  INTEGER,
    answer     TEXT NOT NULL,
    CHECK ((pupil_id IS NULL) <> (person_id IS NULL)),
    FOREIGN KEY (school_id, check_id) REFERENCES publication_checks (school_id, id),
    FOREIGN KEY (school_id, pupil_id) REFERENCES pupils (school_id, id),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id)
);
CREATE INDEX publication_check_people_pupil_idx ON publication_check_people (school_id, pupil_id);
CREATE INDEX publication_check_people_person_idx ON publication_check_people (school_id, person_id);

-- Consent withdrawn after publication: the publisher takes the images down.
CREATE TABLE takedown_tasks (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL,
    check_id    INTEGER NOT NULL,
    consent_id  INTEGER NOT NULL REFERENCES consents (id),
    pupil_id    INTEGER,
    person_id   INTEGER,
    publisher   INTEGER NOT NULL,
    raised_at   TEXT NOT NULL,
    done_by     INTEGER,
    done_at     TEXT,
    note        TEXT,
    FOREIGN KEY (school_id, check_id) REFERENCES publication_checks (school_id, id),
    FOREIGN KEY (school_id, publisher) REFERENCES people (school_id, id)
);
CREATE INDEX takedown_tasks_publisher_idx ON takedown_tasks (school_id, publisher);
