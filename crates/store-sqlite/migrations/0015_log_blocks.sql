-- The access log's detail is stored in blocks (see crates/core/src/logs/block.rs): a row
-- holds the requests of one loaded batch made on one day by one person on one device,
-- compressed, instead of one row per request. The tables are made per partition by the
-- store (db::create_log_partition); this migration only makes sure none of the earlier
-- form exists.
--
-- Logs stored in the earlier form cannot be converted in SQL. A database that holds any
-- is refused, so that no recorded evidence goes missing: see docs/logs.md.
CREATE TEMP TABLE migration_0015_guard (n INTEGER);
CREATE TEMP TRIGGER migration_0015_guard BEFORE INSERT ON migration_0015_guard
WHEN EXISTS (SELECT 1 FROM main.log_sources)
BEGIN
    SELECT RAISE(ABORT, 'this database holds access logs stored before migration 0015; see "Upgrading from row storage" in docs/logs.md');
END;
INSERT INTO migration_0015_guard VALUES (1);
DROP TABLE migration_0015_guard;
