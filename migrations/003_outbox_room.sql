-- Rooms with something to send, for the outbox senders: finding the next
-- rooms to send is an index scan on `due`, however many rows wait in the
-- outbox (the DISTINCT ON over all unsent rows it replaces grew with the
-- backlog). The lease (owner, until) moves here from outbox_lease.
--
-- due: when the room's rows may be sent ('infinity': nothing to send).
-- gen: bumped by every decision that adds rows, so a sender that drained
-- the rows it read knows whether more came meanwhile.
CREATE TABLE outbox_room (
    room_id text PRIMARY KEY,
    due     timestamptz NOT NULL,
    gen     bigint NOT NULL DEFAULT 0,
    owner   text,
    until   timestamptz
);
CREATE INDEX outbox_room_due ON outbox_room (due);

INSERT INTO outbox_room (room_id, due)
SELECT DISTINCT room_id, clock_timestamp() FROM outbox WHERE sent_at IS NULL AND NOT failed;

DROP TABLE outbox_lease;
