-- Reception: kiosk devices, the school's visitor rules and visits. A visit's personal
-- fields (and the salt of their hash in the ledger) become NULL when purged; the row and
-- its ledger entry stay. Kept column for column like the PostgreSQL schema.

CREATE TABLE kiosks (
    id                    INTEGER PRIMARY KEY,
    school_id             INTEGER NOT NULL REFERENCES schools (id),
    name                  TEXT NOT NULL,
    -- SHA-256 of the one-time enrolment code, until it is used or the kiosk revoked
    enrolment_sha256      TEXT,
    enrolment_expires_at  TEXT,
    -- SHA-256 of the device token held in the kiosk's cookie, once enrolled
    token_sha256          TEXT,
    created_by            INTEGER NOT NULL,
    created_at            TEXT NOT NULL,
    enrolled_at           TEXT,
    revoked_at            TEXT,
    revoked_by            INTEGER,
    CONSTRAINT kiosks_school_id_id_key UNIQUE (school_id, id),
    CONSTRAINT kiosks_token_sha256_key UNIQUE (token_sha256),
    CONSTRAINT kiosks_enrolment_sha256_key UNIQUE (enrolment_sha256),
    FOREIGN KEY (school_id, created_by) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, revoked_by) REFERENCES people (school_id, id)
);

CREATE TABLE visitor_settings (
    school_id          INTEGER PRIMARY KEY REFERENCES schools (id),
    resign_after_days  INTEGER NOT NULL CHECK (resign_after_days BETWEEN 1 AND 3650),
    retention_days     INTEGER NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
    updated_by         INTEGER NOT NULL,
    updated_at         TEXT NOT NULL,
    FOREIGN KEY (school_id, updated_by) REFERENCES people (school_id, id)
);

CREATE TABLE visits (
    id                INTEGER PRIMARY KEY,
    school_id         INTEGER NOT NULL,
    kiosk_id          INTEGER,
    host_id           INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('on_site', 'signed_out', 'auto_signed_out')),
    arrived_at        TEXT NOT NULL,
    departed_at       TEXT,
    -- JSON of who signed the visitor out
    signed_out_json   TEXT,
    flagged           INTEGER NOT NULL DEFAULT 0,
    -- personal data: NULL once purged
    full_name         TEXT,
    organisation      TEXT,
    email             TEXT,
    car_registration  TEXT,
    visitor_code      TEXT,
    typed_name        TEXT,
    mark_png          BLOB,
    mark_text         TEXT,
    salt              TEXT,
    personal_sha256   TEXT NOT NULL,
    purged_at         TEXT,
    -- the visitor AUP signed on this visit, or the earlier visit whose signature covers it
    version_id        INTEGER,
    text_sha256       TEXT,
    declaration       TEXT,
    mark_kind         TEXT CHECK (mark_kind IN ('drawn', 'typed')),
    references_json   TEXT,
    covered_by        INTEGER,
    ip                TEXT NOT NULL,
    user_agent        TEXT NOT NULL,
    auth_json         TEXT NOT NULL,
    -- set in the transaction that inserts the row, once its ledger entry is appended
    ledger_seq        INTEGER,
    ledger_hash       TEXT,
    CONSTRAINT visits_school_id_id_key UNIQUE (school_id, id),
    FOREIGN KEY (school_id, kiosk_id) REFERENCES kiosks (school_id, id),
    FOREIGN KEY (school_id, host_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, version_id) REFERENCES policy_versions (school_id, id),
    FOREIGN KEY (school_id, covered_by) REFERENCES visits (school_id, id),
    FOREIGN KEY (school_id, ledger_seq) REFERENCES ledger_entries (school_id, seq),
    CONSTRAINT visits_signed_or_covered_check CHECK (
        (version_id IS NOT NULL AND covered_by IS NULL AND mark_kind IS NOT NULL)
        OR (version_id IS NULL AND covered_by IS NOT NULL AND mark_kind IS NULL)
    ),
    CONSTRAINT visits_purged_check CHECK (
        (purged_at IS NULL AND full_name IS NOT NULL AND visitor_code IS NOT NULL
            AND salt IS NOT NULL)
        OR (purged_at IS NOT NULL AND full_name IS NULL AND organisation IS NULL
            AND email IS NULL AND car_registration IS NULL AND visitor_code IS NULL
            AND typed_name IS NULL AND mark_png IS NULL AND mark_text IS NULL AND salt IS NULL)
    )
);
CREATE INDEX visits_school_state_idx ON visits (school_id, state, arrived_at);
CREATE INDEX visits_school_email_idx ON visits (school_id, email);
CREATE INDEX visits_school_code_idx ON visits (school_id, visitor_code);
