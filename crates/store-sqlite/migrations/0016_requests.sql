-- Requests for permission, advice or a ruling (undersign_core::requests): who decides each
-- kind, the requests with their current state, every step of their history, and the
-- published reasonable-use rulings. Every row is recorded by a ledger entry and checked by
-- `undersign verify`.

CREATE TABLE request_routes (
    id         INTEGER PRIMARY KEY,
    school_id  INTEGER NOT NULL REFERENCES schools (id),
    kind       TEXT NOT NULL,
    decider    TEXT NOT NULL,
    set_by     INTEGER NOT NULL,
    set_at     TEXT NOT NULL,
    CONSTRAINT request_routes_school_kind_key UNIQUE (school_id, kind),
    FOREIGN KEY (school_id, set_by) REFERENCES people (school_id, id)
);

CREATE TABLE requests (
    id             INTEGER PRIMARY KEY,
    school_id      INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    requested_by   INTEGER NOT NULL,
    submitted_at   TEXT NOT NULL,
    answers        TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('submitted', 'more_info', 'approved', 'declined', 'withdrawn', 'expired')),
    route          TEXT NOT NULL,
    decided_by     INTEGER,
    decided_at     TEXT,
    decision_note  TEXT,
    conditions     TEXT,
    expires        TEXT,
    ruling_id      INTEGER,
    CONSTRAINT requests_school_id_id_key UNIQUE (school_id, id),
    CHECK (decided_by IS NULL OR decided_by <> requested_by),
    FOREIGN KEY (school_id, requested_by) REFERENCES people (school_id, id),
    FOREIGN KEY (school_id, decided_by) REFERENCES people (school_id, id)
);
CREATE INDEX requests_requester_idx ON requests (school_id, requested_by);
CREATE INDEX requests_open_idx ON requests (school_id, state);

CREATE TABLE request_steps (
    id          INTEGER PRIMARY KEY,
    school_id   INTEGER NOT NULL,
    request_id  INTEGER NOT NULL,
    step        TEXT NOT NULL,
    by_id       INTEGER,
    at          TEXT NOT NULL,
    note        TEXT NOT NULL,
    FOREIGN KEY (school_id, request_id) REFERENCES requests (school_id, id),
    FOREIGN KEY (school_id, by_id) REFERENCES people (school_id, id)
);
CREATE INDEX request_steps_idx ON request_steps (school_id, request_id);

CREATE TABLE rulings (
    id            INTEGER PRIMARY KEY,
    school_id     INTEGER NOT NULL,
    number        INTEGER NOT NULL,
    request_id    INTEGER NOT NULL,
    statement     INTEGER NOT NULL,
    reasonable    INTEGER NOT NULL,
    text          TEXT NOT NULL,
    published_by  INTEGER NOT NULL,
    published_at  TEXT NOT NULL,
    CONSTRAINT rulings_school_number_key UNIQUE (school_id, number),
    FOREIGN KEY (school_id, request_id) REFERENCES requests (school_id, id),
    FOREIGN KEY (school_id, published_by) REFERENCES people (school_id, id)
);
