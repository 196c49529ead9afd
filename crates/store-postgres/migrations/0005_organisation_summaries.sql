-- The organisation view keeps one summary per school (its policies' signed, total and
-- overdue counts, as JSON) with the chain head it was made at and the time it holds
-- until. Not evidence: replaced freely, removed when a school's settings or roster change.
CREATE TABLE compliance_summaries (
    school_id    BIGINT PRIMARY KEY REFERENCES schools (id),
    ledger_seq   BIGINT NOT NULL,
    valid_until  TIMESTAMPTZ NOT NULL,
    lines        TEXT NOT NULL,
    computed_at  TIMESTAMPTZ NOT NULL
);

-- A receipt code is the first 20 hex characters of its ledger entry's hash.
CREATE INDEX ledger_entries_code_idx ON ledger_entries (substr(hash, 1, 20));
