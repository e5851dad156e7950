-- Two copies of one webhook may reach two replicas at once. A change claims its
-- webhook's id with a transaction-level advisory lock before it records the id, and
-- fails at once if another open change holds it, instead of waiting on that
-- change's row: two batches waiting on each other's ids would deadlock. The copy
-- that failed waits outside any transaction for the other's outcome.
CREATE FUNCTION journeyc_claim_delivery(sid TEXT) RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('journeyc delivery ' || sid, 0)) THEN
        RAISE EXCEPTION 'another copy of webhook % is being processed', sid
            USING ERRCODE = 'lock_not_available';
    END IF;
    RETURN sid;
END
$$;
