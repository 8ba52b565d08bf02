-- Outbox senders lease whole rooms, not rows: a room's rows are sent in
-- order by one process at a time. The lease is a row of its own so that
-- taking it is decided on the latest committed version (INSERT ... ON
-- CONFLICT), never on a statement's older snapshot: two replicas cannot
-- both send a room's rows.
CREATE TABLE outbox_lease (
    room_id text PRIMARY KEY,
    owner   text NOT NULL,
    until   timestamptz NOT NULL
);

-- Row leases are gone; attempts now counts failed attempts only.
ALTER TABLE outbox DROP COLUMN lease_until;
