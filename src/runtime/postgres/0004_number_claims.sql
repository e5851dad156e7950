-- A session started for a number (by a text, a call or the API) holds that number for
-- its journey while it is active and its actor keeps that phone: of two replicas
-- starting sessions for one number at the same moment, one keeps its session and the
-- other's start fails as a conflict, runs again and finds it (the existing-session
-- policy). Sessions from before this version hold no number.
ALTER TABLE sessions ADD COLUMN start_phone TEXT;
CREATE UNIQUE INDEX sessions_one_per_number ON sessions (journey, start_phone) WHERE status = 'active';

-- A start claims its journey and number before it inserts, and fails at once (SQLSTATE
-- JC001, a conflict) when it cannot have it now: another open change holds the claim,
-- or a session holds the number. It never waits on another change's row, so no two
-- batches wait on each other: a holder past its expiry, not yet marked expired, gives
-- the number up here unless another change has its row locked.
CREATE FUNCTION journeyc_claim_number(wanted_journey TEXT, wanted_phone TEXT, now_ms BIGINT) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('journeyc number ' || wanted_journey || ' ' || wanted_phone, 0)) THEN
        RAISE EXCEPTION 'another session of % is being started for %', wanted_journey, wanted_phone
            USING ERRCODE = 'JC001';
    END IF;
    IF EXISTS (SELECT 1 FROM sessions WHERE journey = wanted_journey AND start_phone = wanted_phone
               AND status = 'active' AND expires_at > now_ms) THEN
        RAISE EXCEPTION 'a session of % holds %', wanted_journey, wanted_phone
            USING ERRCODE = 'JC001';
    END IF;
    UPDATE sessions SET start_phone = NULL, revision = revision + 1
    WHERE id IN (SELECT id FROM sessions WHERE journey = wanted_journey AND start_phone = wanted_phone
                 AND status = 'active' FOR UPDATE SKIP LOCKED);
    IF EXISTS (SELECT 1 FROM sessions WHERE journey = wanted_journey AND start_phone = wanted_phone
               AND status = 'active') THEN
        RAISE EXCEPTION 'a session of % that holds % is being changed', wanted_journey, wanted_phone
            USING ERRCODE = 'JC001';
    END IF;
END
$$;
