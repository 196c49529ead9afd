-- The access log's detail is stored in blocks (see crates/core/src/logs/block.rs): a row
-- holds the requests of one loaded batch made on one day by one person on one device,
-- compressed, instead of one row per request. A week of a school's log becomes tens of
-- thousands of rows instead of tens of millions, loaded at the speed of the disk.
--
-- Logs stored in the earlier form cannot be converted in SQL. A database that holds any
-- is refused, so that no recorded evidence goes missing: see docs/logs.md.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM log_sources) THEN
        RAISE EXCEPTION 'this database holds access logs stored before migration 0015; '
            'see "Upgrading from row storage" in docs/logs.md';
    END IF;
END
$$;

DROP TABLE log_routine, log_blocked, log_safeguarding CASCADE;

-- The parents of the detail partitions: one per class, split by school, each school's
-- part split by day (a day for routine requests, a month for the rest).
CREATE TABLE log_routine (
    school_id   BIGINT NOT NULL,
    source_id   BIGINT NOT NULL,
    day         DATE NOT NULL,
    person_id   BIGINT,
    device_id   BIGINT,
    first_line  BIGINT NOT NULL,
    last_line   BIGINT NOT NULL,
    requests    BIGINT NOT NULL,
    data        BYTEA NOT NULL
) PARTITION BY LIST (school_id);
CREATE TABLE log_blocked (LIKE log_routine) PARTITION BY LIST (school_id);
CREATE TABLE log_safeguarding (LIKE log_routine) PARTITION BY LIST (school_id);
