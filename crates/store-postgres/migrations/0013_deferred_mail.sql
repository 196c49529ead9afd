-- A message queued with a part still to be written when it is sent (JSON of
-- `outbox::Deferred`, e.g. {"kind":"receipt","signature":12}): a signer's receipt is
-- queued in the signing's own transaction, and its PDF typeset only by the mail worker.
ALTER TABLE outbox ADD COLUMN deferred TEXT;
