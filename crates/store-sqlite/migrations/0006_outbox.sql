-- The email outbox and sign-in links. A message is written here first and delivered by a
-- worker that claims it with a lease (claimed_by, claimed_until); it ends sent, failed
-- (given up) or cancelled (its unless_signed person signed that version first). A sign-in
-- link keeps only the SHA-256 of its token. Kept column for column like the PostgreSQL
-- schema.

CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY,
    school_id          INTEGER NOT NULL REFERENCES schools (id),
    dedupe_key         TEXT NOT NULL,
    to_email           TEXT NOT NULL,
    to_name            TEXT NOT NULL,
    subject            TEXT NOT NULL,
    text_body          TEXT NOT NULL,
    not_before         TEXT NOT NULL,
    -- cancelled unless still needed: once this person has signed this version
    unless_person_id   INTEGER,
    unless_version_id  INTEGER,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    next_attempt_at    TEXT NOT NULL,
    claimed_by         TEXT,
    claimed_until      TEXT,
    sent_at            TEXT,
    cancelled_at       TEXT,
    failed_at          TEXT,
    created_at         TEXT NOT NULL,
    CONSTRAINT outbox_school_id_dedupe_key_key UNIQUE (school_id, dedupe_key),
    FOREIGN KEY (school_id, unless_person_id) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, unless_version_id) REFERENCES policy_versions (school_id, id),
    CONSTRAINT outbox_unless_check CHECK ((unless_person_id IS NULL) = (unless_version_id IS NULL)),
    CONSTRAINT outbox_one_end_check CHECK (
        (sent_at IS NOT NULL) + (cancelled_at IS NOT NULL) + (failed_at IS NOT NULL) <= 1
    )
);
-- The claim: queued messages by when they are next due.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL;
-- The school's outbox page, newest first.
CREATE INDEX outbox_school_created_idx ON outbox (school_id, created_at, id);

CREATE TABLE outbox_attachments (
    outbox_id     INTEGER NOT NULL REFERENCES outbox (id),
    position      INTEGER NOT NULL,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    PRIMARY KEY (outbox_id, position)
);

CREATE TABLE login_links (
    id            INTEGER PRIMARY KEY,
    token_sha256  TEXT NOT NULL,
    school_id     INTEGER NOT NULL,
    person_id     INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    CONSTRAINT login_links_token_sha256_key UNIQUE (token_sha256),
    FOREIGN KEY (school_id, person_id) REFERENCES people (school_id, id)
);
CREATE INDEX login_links_expires_idx ON login_links (expires_at);
