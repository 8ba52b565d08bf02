-- Walkie schema v1.
--
-- One row per room holds the whole floor-engine state (internal/floor.Room)
-- as JSON: every decision locks that row, reads it, decides and writes it
-- back, so one row lock serialises a room across any number of replicas.
-- The columns beside the JSON are copies kept for indexes and operators.

CREATE TABLE walkie_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- install_id makes outgoing Matrix transaction IDs unique to this database,
-- so a fresh database never reuses a txn ID the homeserver has cached.
INSERT INTO walkie_meta (key, value)
VALUES ('install_id', substr(md5(random()::text || clock_timestamp()::text), 1, 12));

-- Appservice transactions already acknowledged (replays are answered 200
-- without being processed again, also across restarts).
CREATE TABLE as_transaction (
    txn_id      text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    event_count integer NOT NULL
);

-- Every event the homeserver pushed, durable before the transaction is
-- acknowledged; processed in seq order per room.
CREATE TABLE inbox (
    seq          bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,
    room_id      text NOT NULL,
    event        json NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    processed_at timestamptz
);
CREATE INDEX inbox_pending ON inbox (room_id, seq) WHERE processed_at IS NULL;
CREATE INDEX inbox_processed ON inbox (processed_at) WHERE processed_at IS NOT NULL;

CREATE TABLE room (
    room_id       text PRIMARY KEY,
    joined        boolean NOT NULL DEFAULT false,
    managed       boolean NOT NULL DEFAULT false,
    passive       boolean NOT NULL DEFAULT false,
    term          bigint NOT NULL DEFAULT 0,
    holder_user   text,
    holder_device text,
    queue_length  integer NOT NULL DEFAULT 0,
    next_deadline timestamptz,
    state         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX room_due ON room (next_deadline) WHERE next_deadline IS NOT NULL;
CREATE INDEX room_holder ON room (holder_user, holder_device) WHERE holder_user IS NOT NULL;

-- Append-only audit of every decision.
CREATE TABLE floor_log (
    id        bigserial PRIMARY KEY,
    room_id   text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    action    text NOT NULL,
    user_id   text NOT NULL DEFAULT '',
    device_id text NOT NULL DEFAULT '',
    term      bigint NOT NULL DEFAULT 0,
    reason    text NOT NULL DEFAULT '',
    event_id  text NOT NULL DEFAULT ''
);
CREATE INDEX floor_log_room ON floor_log (room_id, id);

-- Events to send, written in the same transaction as the decision that
-- caused them. Sent per room in id order; the Matrix txn ID is derived from
-- install_id and id, so a re-send after a crash is idempotent.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    room_id         text NOT NULL,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until     timestamptz,
    last_error      text,
    sent_at         timestamptz,
    sent_event_id   text,
    failed          boolean NOT NULL DEFAULT false
);
CREATE INDEX outbox_pending ON outbox (room_id, id) WHERE sent_at IS NULL AND NOT failed;
