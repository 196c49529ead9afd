-- Append-only that cannot be side-stepped. `INSERT OR REPLACE` (and `REPLACE`) deletes
-- the row it collides with without firing the delete triggers of 0001 (unless
-- recursive_triggers is on), so every evidence table refuses an insert that collides
-- with a row already there, on any of its unique keys; an upsert's DO UPDATE is already
-- refused by the update triggers. The records that may change (people, kiosks, visits)
-- may not be deleted. Kept in step with the PostgreSQL schema's TRUNCATE triggers.
--
-- A collision on a unique key that users can cause (a school's short name, an email, …)
-- raises the constraint's own name, so that the store reports it exactly as it reports
-- the constraint itself (see `db::constraint`).

CREATE TRIGGER ledger_entries_no_replace BEFORE INSERT ON ledger_entries
WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE school_id = NEW.school_id AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'ledger_entries_school_id_seq_key'); END;

CREATE TRIGGER checkpoints_no_replace BEFORE INSERT ON checkpoints
WHEN EXISTS (SELECT 1 FROM checkpoints WHERE school_id = NEW.school_id AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'checkpoints_school_id_seq_key'); END;

CREATE TRIGGER views_no_replace BEFORE INSERT ON views
WHEN EXISTS (SELECT 1 FROM views WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'views are evidence and cannot be changed'); END;

CREATE TRIGGER signatures_no_replace BEFORE INSERT ON signatures
WHEN EXISTS (SELECT 1 FROM signatures WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'signatures are evidence and cannot be changed'); END;
CREATE TRIGGER signatures_no_replace_person_version BEFORE INSERT ON signatures
WHEN EXISTS (SELECT 1 FROM signatures WHERE school_id = NEW.school_id
             AND person_id = NEW.person_id AND version_id = NEW.version_id)
BEGIN SELECT RAISE(ABORT, 'signatures_person_version_key'); END;

CREATE TRIGGER declines_no_replace BEFORE INSERT ON declines
WHEN EXISTS (SELECT 1 FROM declines WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'declines are evidence and cannot be changed'); END;

CREATE TRIGGER policy_versions_no_replace BEFORE INSERT ON policy_versions
WHEN EXISTS (SELECT 1 FROM policy_versions WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'a policy version cannot be replaced'); END;
CREATE TRIGGER policy_versions_no_replace_number BEFORE INSERT ON policy_versions
WHEN EXISTS (SELECT 1 FROM policy_versions WHERE school_id = NEW.school_id
             AND policy_id = NEW.policy_id AND number = NEW.number)
BEGIN SELECT RAISE(ABORT, 'policy_versions_policy_id_number_key'); END;

CREATE TRIGGER people_no_replace BEFORE INSERT ON people
WHEN EXISTS (SELECT 1 FROM people WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'a person cannot be replaced; edit them instead'); END;
CREATE TRIGGER people_no_replace_email BEFORE INSERT ON people
WHEN EXISTS (SELECT 1 FROM people WHERE school_id = NEW.school_id AND email = NEW.email)
BEGIN SELECT RAISE(ABORT, 'people_school_id_email_key'); END;
CREATE TRIGGER people_no_delete BEFORE DELETE ON people
BEGIN SELECT RAISE(ABORT, 'people are kept with their evidence; mark them as left'); END;

CREATE TRIGGER kiosks_no_replace BEFORE INSERT ON kiosks
WHEN EXISTS (SELECT 1 FROM kiosks WHERE id = NEW.id
             OR token_sha256 = NEW.token_sha256 OR enrolment_sha256 = NEW.enrolment_sha256)
BEGIN SELECT RAISE(ABORT, 'a kiosk cannot be replaced'); END;
CREATE TRIGGER kiosks_no_delete BEFORE DELETE ON kiosks
BEGIN SELECT RAISE(ABORT, 'kiosks are kept with their evidence; revoke them'); END;

CREATE TRIGGER visits_no_replace BEFORE INSERT ON visits
WHEN EXISTS (SELECT 1 FROM visits WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'a visit cannot be replaced'); END;
CREATE TRIGGER visits_no_delete BEFORE DELETE ON visits
BEGIN SELECT RAISE(ABORT, 'visits are evidence; their personal data is purged, not the row'); END;

CREATE TRIGGER schools_no_replace BEFORE INSERT ON schools
WHEN EXISTS (SELECT 1 FROM schools WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'a school cannot be replaced'); END;
CREATE TRIGGER schools_no_replace_slug BEFORE INSERT ON schools
WHEN EXISTS (SELECT 1 FROM schools WHERE slug = NEW.slug)
BEGIN SELECT RAISE(ABORT, 'schools_slug_key'); END;
CREATE TRIGGER schools_no_delete BEFORE DELETE ON schools
BEGIN SELECT RAISE(ABORT, 'a school is kept with its evidence'); END;
