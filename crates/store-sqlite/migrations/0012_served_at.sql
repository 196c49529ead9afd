-- Opening a sign page no longer writes a `viewed` entry. When the text was served travels
-- with the form in a sealed token and is kept with the signature or decline (RFC 3339,
-- exactly as in its ledger entry); NULL for older rows and forms without a token.
ALTER TABLE signatures ADD COLUMN served_at TEXT;
ALTER TABLE declines ADD COLUMN served_at TEXT;
