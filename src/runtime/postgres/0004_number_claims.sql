-- A session started for a number (by a text, a call or the API) holds that number for
-- its journey while it is active: of two replicas starting sessions for one number at
-- the same moment, one keeps its session and the other's start fails as a conflict,
-- runs again and finds it (the existing-session policy). Sessions from before this
-- version hold no number.
ALTER TABLE sessions ADD COLUMN start_phone TEXT;
CREATE UNIQUE INDEX sessions_one_per_number ON sessions (journey, start_phone) WHERE status = 'active';

-- A start claims its journey and number with a transaction-level advisory lock before
-- it inserts, and fails at once (SQLSTATE JC001, a conflict) if another open change
-- holds it, instead of waiting on that change's row in the index: two batches waiting
-- on each other's rows would deadlock. The start runs again once that change is over.
CREATE FUNCTION journeyc_claim_number(journey TEXT, phone TEXT) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('journeyc number ' || journey || ' ' || phone, 0)) THEN
        RAISE EXCEPTION 'another session of % is being started for %', journey, phone
            USING ERRCODE = 'JC001';
    END IF;
END
$$;
