-- Administrators no longer set passwords: they send a reset link, which is a login link
-- with purpose 'password_reset' and the administrator who sent it. A person's email
-- changed by someone else is noted, so that signatures made soon after say so.

ALTER TABLE login_links ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign_in'
    CHECK (purpose IN ('sign_in', 'password_reset'));
ALTER TABLE login_links ADD COLUMN sent_by INTEGER;

ALTER TABLE people ADD COLUMN email_changed_at TEXT;
ALTER TABLE people ADD COLUMN email_changed_by INTEGER;
