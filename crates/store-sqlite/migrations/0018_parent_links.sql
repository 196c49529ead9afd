-- Single-use links by which a parent or carer gives or withdraws consent for their own
-- children without an account: stored only as the SHA-256 of the token. The consents
-- given through a link are evidence (`consents`, source `parent_link`, naming the link),
-- and so is each link sent (its address checked by its fingerprint in the ledger).
CREATE TABLE parent_links (
    id            INTEGER PRIMARY KEY,
    school_id     INTEGER NOT NULL REFERENCES schools (id),
    token_sha256  TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    created_by    INTEGER,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    FOREIGN KEY (school_id, created_by) REFERENCES people (school_id, id)
);

-- The link each consent given through one came from (so its record names the address).
ALTER TABLE consents ADD COLUMN parent_link_id INTEGER REFERENCES parent_links (id);
