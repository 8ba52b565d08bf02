-- The number of valid talk permits in each room (a permit of a joined
-- member, not expired), written by every decision like queue_length, so
-- the walkie_permits_valid gauge is one sum instead of a scan of every
-- room's JSON. Like the floor state's listeners, it is as of the room's
-- last decision. Existing rooms start with the number of permits they
-- hold and get the exact count at their next decision.
ALTER TABLE room ADD COLUMN valid_permits integer NOT NULL DEFAULT 0;

UPDATE room SET valid_permits = (SELECT count(*) FROM jsonb_object_keys(coalesce(state->'permits', '{}'::jsonb)));
