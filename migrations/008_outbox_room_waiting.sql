-- The outbox senders' claim looks for rooms whose rows are due; idle rooms
-- (due 'infinity', most of them) never are. They leave the index on due:
-- it holds only rooms with rows waiting (due now, after a retry's backoff,
-- or when a lease handed off at commit runs out), and a release that makes
-- a room idle adds no entry to it.
CREATE INDEX outbox_room_waiting ON outbox_room (due) WHERE due <> 'infinity';
DROP INDEX outbox_room_due;
