-- The schema of journeyc's PostgreSQL store, as of its first version. Times are
-- milliseconds since 1970 (UTC), as in the SQLite store. Never edit a shipped
-- migration: add the next file.
CREATE TABLE sessions (
    seq         BIGSERIAL NOT NULL,
    id          TEXT PRIMARY KEY,
    journey     TEXT NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    actor_phone TEXT,
    expires_at  BIGINT NOT NULL,
    state       TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_seq ON sessions (seq);
CREATE INDEX sessions_by_phone ON sessions (actor_phone, seq) WHERE status = 'active';
CREATE INDEX sessions_active_expiry ON sessions (expires_at) WHERE status = 'active';
CREATE INDEX sessions_by_version ON sessions (journey, version, status);

CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    at         BIGINT NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX events_by_session ON events (session_id, id);

-- A timer is claimed by one replica at a time: `claimed_by` until `lease_until`
-- (wall-clock milliseconds). Firing checks that it is still pending, so a lease that
-- ran out while its replica was firing it never makes it fire twice.
CREATE TABLE timers (
    id             BIGSERIAL PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions (id),
    key            TEXT NOT NULL,
    due            BIGINT NOT NULL,
    step           BIGINT NOT NULL,
    skip_if_missed BOOLEAN NOT NULL,
    actions        TEXT NOT NULL,
    state          TEXT NOT NULL,
    claimed_by     TEXT,
    lease_until    BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX timers_pending_key ON timers (session_id, key) WHERE state = 'pending';
CREATE INDEX timers_pending_due ON timers (due, id) WHERE state = 'pending';
CREATE INDEX timers_pending_leased ON timers (lease_until) WHERE state = 'pending' AND lease_until > 0;

-- A message is claimed by one replica's sender (`claimed_by`); a replica that stops
-- beating (`replicas`) leaves its claims to be recovered by the others.
CREATE TABLE outbox (
    id          BIGSERIAL PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    to_number   TEXT NOT NULL,
    from_number TEXT NOT NULL,
    body        TEXT NOT NULL,
    body_hash   BYTEA,
    status      TEXT NOT NULL,
    note        TEXT,
    sid         TEXT,
    created_at  BIGINT NOT NULL,
    claimed_by  TEXT
);
CREATE INDEX outbox_recent ON outbox (to_number, created_at);
CREATE INDEX outbox_by_sid ON outbox (sid);
CREATE INDEX outbox_by_session ON outbox (session_id, id);
CREATE INDEX outbox_waiting ON outbox (status, id) WHERE status IN ('pending', 'claimed', 'sending', 'unknown');

CREATE TABLE opt_outs (
    phone TEXT PRIMARY KEY,
    at    BIGINT NOT NULL
);

CREATE TABLE schedules (
    journey       TEXT NOT NULL,
    trigger_index BIGINT NOT NULL,
    next_at       BIGINT NOT NULL,
    PRIMARY KEY (journey, trigger_index)
);

CREATE TABLE deliveries (
    sid TEXT PRIMARY KEY,
    at  BIGINT NOT NULL
);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE health (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);

CREATE TABLE journey_versions (
    journey     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    format      BIGINT NOT NULL,
    ir          TEXT NOT NULL,
    deployed_at BIGINT NOT NULL,
    PRIMARY KEY (journey, version),
    UNIQUE (journey, fingerprint)
);

-- Each running replica's heartbeat (wall-clock milliseconds).
CREATE TABLE replicas (
    id      TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

-- The per-number send budget shared by every replica: the next instant a message
-- from the number may be handed to the provider, in microseconds.
CREATE TABLE send_slots (
    from_number TEXT PRIMARY KEY,
    next_at_us  BIGINT NOT NULL
);
