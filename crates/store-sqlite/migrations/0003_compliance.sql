-- Compliance and the MIS roster. roster_members: the people the roster import keeps (added
-- or matched by an import), with their MIS id and start date; the import marks them as
-- left when a later file no longer lists them. compliance_settings: how many days people
-- have to sign, counted from publication or joining (14 without a row).
CREATE TABLE roster_members (
    school_id    INTEGER NOT NULL,
    person_id    INTEGER NOT NULL,
    mis_id       TEXT,
    start_date   TEXT,
    updated_at   TEXT NOT NULL,
    CONSTRAINT roster_members_person_key UNIQUE (school_id, person_id),
    CONSTRAINT roster_members_mis_id_key UNIQUE (school_id, mis_id),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id)
);

CREATE TABLE compliance_settings (
    school_id     INTEGER PRIMARY KEY REFERENCES schools (id),
    days_to_sign  INTEGER NOT NULL CHECK (days_to_sign BETWEEN 1 AND 365),
    updated_at    TEXT NOT NULL
);

-- The dashboard reads a school's people and signatures set-wise.
CREATE INDEX people_school_status_idx ON people (school_id, status);
CREATE INDEX policy_versions_school_policy_idx ON policy_versions (school_id, policy_id, number);
