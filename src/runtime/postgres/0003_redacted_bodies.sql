-- A text's body with its journey-link tokens redacted (`links::redact`), kept from
-- when it is queued, so that recording it as sent is one write that needs no answer:
-- the body becomes this then. NULL when there is nothing to redact.
ALTER TABLE outbox ADD COLUMN redacted TEXT;
-- Texts queued before this version that have not left yet: the same rule, in SQL.
UPDATE outbox
SET redacted = regexp_replace(body, '/j/[A-Za-z0-9_-]{16,}', '/j/[redacted]', 'g')
WHERE status IN ('pending', 'claimed', 'sending', 'unknown')
  AND body ~ '/j/[A-Za-z0-9_-]{16,}';
