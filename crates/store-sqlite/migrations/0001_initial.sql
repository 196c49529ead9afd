-- Undersign on SQLite: organisations, schools (the tenants), people, policies, signing
-- evidence and the per-school ledger. Every school-owned table carries school_id and
-- points at other school-owned rows through (school_id, id), so a row can never refer to
-- another school's row. Times are TEXT in RFC 3339, UTC, microseconds, 'Z':
-- fixed width, so they sort and compare as text.

CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE schools (
    id               INTEGER PRIMARY KEY,
    organisation_id  INTEGER NOT NULL REFERENCES organisations (id),
    name             TEXT NOT NULL,
    slug             TEXT NOT NULL,
    timezone         TEXT NOT NULL,
    public_key       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    CONSTRAINT schools_slug_key UNIQUE (slug)
);

CREATE TABLE people (
    id               INTEGER PRIMARY KEY,
    school_id        INTEGER NOT NULL REFERENCES schools (id),
    full_name        TEXT NOT NULL,
    email            TEXT NOT NULL,
    -- JSON array of role codes, e.g. ["governor","staff"]
    roles            TEXT NOT NULL,
    line_manager_id  INTEGER,
    status           TEXT NOT NULL CHECK (status IN ('active', 'left')),
    password_hash    TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT people_school_id_id_key UNIQUE (school_id, id),
    CONSTRAINT people_school_id_email_key UNIQUE (school_id, email),
    CONSTRAINT people_line_manager_fkey FOREIGN KEY (school_id, line_manager_id)
        REFERENCES people (school_id, id)
);
CREATE INDEX people_email_idx ON people (email);

CREATE TABLE sessions (
    token_sha256  TEXT PRIMARY KEY,
    school_id     INTEGER NOT NULL,
    person_id     INTEGER NOT NULL,
    csrf_token    TEXT NOT NULL,
    auth_method   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id)
);
CREATE INDEX sessions_person_idx ON sessions (school_id, person_id);

CREATE TABLE login_failures (
    id      INTEGER PRIMARY KEY,
    key     TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX login_failures_key_at_idx ON login_failures (key, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);

CREATE TABLE policies (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL REFERENCES schools (id),
    title       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CONSTRAINT policies_school_id_id_key UNIQUE (school_id, id)
);

CREATE TABLE policy_versions (
    id            INTEGER PRIMARY KEY,
    school_id     INTEGER NOT NULL,
    policy_id     INTEGER NOT NULL,
    number        INTEGER NOT NULL CHECK (number > 0),
    body_md       TEXT NOT NULL,
    text_sha256   TEXT NOT NULL,
    declaration   TEXT NOT NULL,
    change_kind   TEXT NOT NULL CHECK (change_kind IN ('major', 'minor')),
    summary       TEXT NOT NULL,
    -- JSON array of audience codes, e.g. ["governors","staff"]
    audiences     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    created_at    TEXT NOT NULL,
    published_at  TEXT,
    published_by  INTEGER,
    CONSTRAINT policy_versions_school_id_id_key UNIQUE (school_id, id),
    CONSTRAINT policy_versions_policy_id_number_key UNIQUE (school_id, policy_id, number),
    CONSTRAINT policy_versions_policy_fkey FOREIGN KEY (school_id, policy_id)
        REFERENCES policies (school_id, id),
    CONSTRAINT policy_versions_published_by_fkey FOREIGN KEY (school_id, published_by)
        REFERENCES people (school_id, id),
    CONSTRAINT policy_versions_published_check CHECK (
        (status = 'draft' AND published_at IS NULL AND published_by IS NULL)
        OR (status = 'published' AND published_at IS NOT NULL AND published_by IS NOT NULL)
    )
);

CREATE TABLE policy_references (
    id           INTEGER PRIMARY KEY,
    school_id    INTEGER NOT NULL,
    version_id   INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    title        TEXT NOT NULL,
    source_kind  TEXT NOT NULL CHECK (source_kind IN ('link', 'text')),
    -- the address of a link, or the text of an uploaded document
    content      TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    CONSTRAINT policy_references_school_id_id_key UNIQUE (school_id, id),
    CONSTRAINT policy_references_version_fkey FOREIGN KEY (school_id, version_id)
        REFERENCES policy_versions (school_id, id)
);
CREATE INDEX policy_references_version_idx ON policy_references (school_id, version_id);

-- The evidence chain: payload is the exact canonical JSON that was hashed.
CREATE TABLE ledger_entries (
    school_id    INTEGER NOT NULL REFERENCES schools (id),
    seq          INTEGER NOT NULL CHECK (seq > 0),
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    CONSTRAINT ledger_entries_school_id_seq_key UNIQUE (school_id, seq)
);

CREATE TABLE views (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL,
    person_id   INTEGER NOT NULL,
    version_id  INTEGER NOT NULL,
    ledger_seq  INTEGER NOT NULL,
    viewed_at   TEXT NOT NULL,
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, version_id) REFERENCES policy_versions (school_id, id),
    FOREIGN KEY (school_id, ledger_seq) REFERENCES ledger_entries (school_id, seq)
);
CREATE INDEX views_person_version_idx ON views (school_id, person_id, version_id);

CREATE TABLE signatures (
    id               INTEGER PRIMARY KEY,
    school_id        INTEGER NOT NULL,
    person_id        INTEGER NOT NULL,
    version_id       INTEGER NOT NULL,
    typed_name       TEXT NOT NULL,
    mark_kind        TEXT NOT NULL CHECK (mark_kind IN ('drawn', 'typed')),
    mark_png         BLOB,
    mark_text        TEXT,
    mark_sha256      TEXT NOT NULL,
    text_sha256      TEXT NOT NULL,
    declaration      TEXT NOT NULL,
    -- JSON array of the referenced documents acknowledged
    references_json  TEXT NOT NULL,
    ip               TEXT NOT NULL,
    user_agent       TEXT NOT NULL,
    -- JSON of how the signer authenticated
    auth_json        TEXT NOT NULL,
    viewed_seq       INTEGER,
    signed_at        TEXT NOT NULL,
    ledger_seq       INTEGER NOT NULL,
    ledger_hash      TEXT NOT NULL,
    CONSTRAINT signatures_school_id_id_key UNIQUE (school_id, id),
    CONSTRAINT signatures_person_version_key UNIQUE (school_id, person_id, version_id),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, version_id) REFERENCES policy_versions (school_id, id),
    FOREIGN KEY (school_id, ledger_seq) REFERENCES ledger_entries (school_id, seq),
    CONSTRAINT signatures_mark_check CHECK (
        (mark_kind = 'drawn' AND mark_png IS NOT NULL AND mark_text IS NULL)
        OR (mark_kind = 'typed' AND mark_text IS NOT NULL AND mark_png IS NULL)
    )
);

CREATE TABLE declines (
    id           INTEGER PRIMARY KEY,
    school_id    INTEGER NOT NULL,
    person_id    INTEGER NOT NULL,
    version_id   INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    text_sha256  TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    auth_json    TEXT NOT NULL,
    declined_at  TEXT NOT NULL,
    ledger_seq   INTEGER NOT NULL,
    ledger_hash  TEXT NOT NULL,
    CONSTRAINT declines_school_id_id_key UNIQUE (school_id, id),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, version_id) REFERENCES policy_versions (school_id, id),
    FOREIGN KEY (school_id, ledger_seq) REFERENCES ledger_entries (school_id, seq)
);
CREATE INDEX declines_person_version_idx ON declines (school_id, person_id, version_id);

CREATE TABLE checkpoints (
    school_id  INTEGER NOT NULL REFERENCES schools (id),
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    signed_at  TEXT NOT NULL,
    signature  TEXT NOT NULL,
    CONSTRAINT checkpoints_school_id_seq_key UNIQUE (school_id, seq)
);

-- Evidence is never changed in place. Anyone who wants to rewrite it has to drop these
-- first, which is what the ledger's hashes and signed checkpoints are there to catch.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;

CREATE TRIGGER views_no_update BEFORE UPDATE ON views
BEGIN SELECT RAISE(ABORT, 'views are evidence and cannot be changed'); END;
CREATE TRIGGER views_no_delete BEFORE DELETE ON views
BEGIN SELECT RAISE(ABORT, 'views are evidence and cannot be changed'); END;

CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
BEGIN SELECT RAISE(ABORT, 'signatures are evidence and cannot be changed'); END;
CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
BEGIN SELECT RAISE(ABORT, 'signatures are evidence and cannot be changed'); END;

CREATE TRIGGER declines_no_update BEFORE UPDATE ON declines
BEGIN SELECT RAISE(ABORT, 'declines are evidence and cannot be changed'); END;
CREATE TRIGGER declines_no_delete BEFORE DELETE ON declines
BEGIN SELECT RAISE(ABORT, 'declines are evidence and cannot be changed'); END;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints cannot be changed'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints cannot be changed'); END;

CREATE TRIGGER policy_versions_published_no_update BEFORE UPDATE ON policy_versions
WHEN OLD.status = 'published'
BEGIN SELECT RAISE(ABORT, 'a published version cannot be changed'); END;
CREATE TRIGGER policy_versions_published_no_delete BEFORE DELETE ON policy_versions
WHEN OLD.status = 'published'
BEGIN SELECT RAISE(ABORT, 'a published version cannot be changed'); END;

CREATE TRIGGER policy_references_published_no_insert BEFORE INSERT ON policy_references
WHEN (SELECT status FROM policy_versions
      WHERE school_id = NEW.school_id AND id = NEW.version_id) = 'published'
BEGIN SELECT RAISE(ABORT, 'a published version cannot be changed'); END;
CREATE TRIGGER policy_references_published_no_update BEFORE UPDATE ON policy_references
WHEN (SELECT status FROM policy_versions
      WHERE school_id = OLD.school_id AND id = OLD.version_id) = 'published'
BEGIN SELECT RAISE(ABORT, 'a published version cannot be changed'); END;
CREATE TRIGGER policy_references_published_no_delete BEFORE DELETE ON policy_references
WHEN (SELECT status FROM policy_versions
      WHERE school_id = OLD.school_id AND id = OLD.version_id) = 'published'
BEGIN SELECT RAISE(ABORT, 'a published version cannot be changed'); END;
