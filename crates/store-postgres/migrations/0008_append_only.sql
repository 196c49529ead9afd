-- Append-only that cannot be side-stepped. TRUNCATE fires no row triggers, so every
-- evidence table refuses it outright; an upsert's DO UPDATE is already refused by the
-- update triggers of 0001. The records that may change (people, kiosks, visits) may not
-- be deleted. Kept in step with the SQLite schema's no-replace triggers.

CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('ledger entries are append-only');
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('checkpoints cannot be changed');
CREATE TRIGGER views_no_truncate BEFORE TRUNCATE ON views
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('views are evidence and cannot be changed');
CREATE TRIGGER signatures_no_truncate BEFORE TRUNCATE ON signatures
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('signatures are evidence and cannot be changed');
CREATE TRIGGER declines_no_truncate BEFORE TRUNCATE ON declines
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('declines are evidence and cannot be changed');
CREATE TRIGGER policy_versions_no_truncate BEFORE TRUNCATE ON policy_versions
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('a published version cannot be changed');
CREATE TRIGGER policy_references_no_truncate BEFORE TRUNCATE ON policy_references
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('a published version cannot be changed');

CREATE TRIGGER people_no_truncate BEFORE TRUNCATE ON people
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('people are kept with their evidence; mark them as left');
CREATE TRIGGER people_no_delete BEFORE DELETE ON people
FOR EACH ROW EXECUTE FUNCTION undersign_refuse_change('people are kept with their evidence; mark them as left');
CREATE TRIGGER kiosks_no_truncate BEFORE TRUNCATE ON kiosks
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('kiosks are kept with their evidence; revoke them');
CREATE TRIGGER kiosks_no_delete BEFORE DELETE ON kiosks
FOR EACH ROW EXECUTE FUNCTION undersign_refuse_change('kiosks are kept with their evidence; revoke them');
CREATE TRIGGER visits_no_truncate BEFORE TRUNCATE ON visits
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('visits are evidence; their personal data is purged, not the row');
CREATE TRIGGER visits_no_delete BEFORE DELETE ON visits
FOR EACH ROW EXECUTE FUNCTION undersign_refuse_change('visits are evidence; their personal data is purged, not the row');
CREATE TRIGGER schools_no_truncate BEFORE TRUNCATE ON schools
FOR EACH STATEMENT EXECUTE FUNCTION undersign_refuse_change('a school is kept with its evidence');
CREATE TRIGGER schools_no_delete BEFORE DELETE ON schools
FOR EACH ROW EXECUTE FUNCTION undersign_refuse_change('a school is kept with its evidence');
