-- A room's state version, so a process can keep the rooms it decoded in
-- memory and a decision reads the 1 KB of JSON state only when the row
-- changed since (the store's room cache): the lock answers the version,
-- and the state only when it differs from the version the process holds.
--
-- Versions come from one sequence, so a version names one state of one
-- row for good: a room deleted by an operator and created again does not
-- count from the start again and meet a copy of its former self.
--
-- Walkie's own writes set the next version. The trigger does it for every
-- other write of the state (an operator's UPDATE, a later migration), so
-- no change of the state can leave a cached copy looking current; its WHEN
-- clause spares Walkie's writes the call.
CREATE SEQUENCE room_version;

ALTER TABLE room ADD COLUMN version bigint NOT NULL DEFAULT nextval('room_version');

CREATE FUNCTION room_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('room_version');
    RETURN NEW;
END
$$;

CREATE TRIGGER room_state_version BEFORE UPDATE OF state ON room
    FOR EACH ROW WHEN (OLD.version = NEW.version)
    EXECUTE FUNCTION room_next_version();
