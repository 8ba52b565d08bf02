-- outbox.next_attempt_at was written on every retry and never read: when a
-- room's rows are due again is outbox_room.due (migration 003).
ALTER TABLE outbox DROP COLUMN next_attempt_at;
-- A replica still running the code before this migration fails to record a
-- retry until it is upgraded too; its lease then runs out and an upgraded
-- replica sends the room's rows (nothing is lost).
