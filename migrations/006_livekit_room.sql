-- Live mode: the LiveKit rooms Walkie minted join tokens for, by name.
-- LiveKit names a room by a hash of the Matrix room ID (internal/livekit
-- RoomName), and its webhooks name only that hash: this maps it back. A
-- row is written (or touched) whenever a token is handed out, so the
-- reconciler also knows which rooms to look at on the SFU.
CREATE TABLE livekit_room (
    name       text PRIMARY KEY,
    room_id    text NOT NULL,
    minted_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX livekit_room_room ON livekit_room (room_id);
