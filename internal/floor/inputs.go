package floor

import "time"

// Input is one thing that happened to a room.
type Input interface{ input() }

// TalkRequest is an explicit org.matrix.msc4002.talk_request, or the same
// request sent over the floor channel.
type TalkRequest struct {
	// EventID is the talk_request event; "" for a channel request.
	EventID string
	// Channel is the floor channel's name for a request sent over it ("" for
	// a room event). The requester's answer then goes back to the socket
	// (Response.Channel) instead of into the room's timeline, and so do its
	// later answers (Response.Later: granted from the queue, dropped from
	// it, the turn ended), which the queue place or turn remembers the
	// channel for. Everything else the request causes (floor state,
	// others' responses) goes to the room as usual.
	Channel  string
	Sender   string
	Action   string
	DeviceID string
	Preempt  bool
	Target   *Device // revoke only; nil or empty: the current holder
	// Term is the turn a release or revoke means; 0: the current one.
	Term int64
	// Invalid is set by the parser when the content is malformed; the
	// engine answers bad_request with this detail.
	Invalid string
}

// BroadcastInfo is a voice_broadcast_info state event in any dialect.
type BroadcastInfo struct {
	EventID  string
	Sender   string
	DeviceID string
	State    string
	// Term is the client's fencing token (TermKey); 0 when absent.
	Term        int64
	ChunkLength time.Duration
	// StartedEventID is the `started` event this update refers to (m.reference); empty on `started`.
	StartedEventID string
	Invalid        string
}

// Chunk is one voice broadcast chunk (any dialect, or m.room.encrypted with
// a plaintext m.relates_to).
type Chunk struct {
	EventID          string
	Sender           string
	BroadcastEventID string
}

// PermitChange is a talk_permit state event. Empty content revokes.
type PermitChange struct {
	EventID  string
	Sender   string
	StateKey string
	Empty    bool
	DeviceID string
	Send     bool
	Receive  bool
	// ExpiresAt is zero for a permanent permit.
	ExpiresAt time.Time
	Invalid   string
}

// MemberChange is an m.room.member event.
type MemberChange struct {
	EventID    string
	UserID     string // state key
	Membership string
}

// PowerChange is an m.room.power_levels event.
type PowerChange struct {
	EventID string
	Levels  PowerLevels
}

// ConfigChange is a floor_config state event; Values is its JSON content
// decoded with encoding/json (numbers are float64).
type ConfigChange struct {
	EventID string
	Sender  string
	Values  map[string]any
}

// FloorStateSeen is an org.matrix.msc4002.floor state event: one sent by
// another controller first makes this one passive.
type FloorStateSeen struct {
	EventID string
	Sender  string
	// Timestamp is the event's origin_server_ts: every controller sees the
	// same one, so all agree on who published first.
	Timestamp time.Time
}

// RoomCreate is the room's m.room.create event: who created the room, and
// under which room version (which says what the creators' power is).
type RoomCreate struct {
	EventID     string
	Sender      string
	RoomVersion string
	// AdditionalCreators is content.additional_creators (room version 12).
	AdditionalCreators []string
}

// Snapshot is the room's whole state as loaded with /state when the
// controller joins (or starts up): it replaces what the engine knew and
// yields at most one floor state and one notice.
type Snapshot struct {
	Power   *PowerLevels // nil: no power_levels event (Matrix defaults apply)
	Create  *RoomCreate  // nil: none in the answer (what the engine knew stays)
	Members []MemberChange
	// Permits are the latest permit events, with their senders: a permit
	// sent by someone else than the user it names is a forgery.
	Permits []PermitChange
	Config  *ConfigChange
	// Floor is the room's latest floor state event, nil when it has none.
	Floor *FloorStateSeen
	// AsOf is the room's StateVersion read before /state was requested. If
	// the stream applied state events since, /state may predate them (a
	// member who joined while it was loading would be lost): the engine
	// then ignores the snapshot and logs LogSnapshotStale, and the loader
	// asks again.
	AsOf int64
}

// Redaction is an m.room.redaction. It counts only when it strips an event
// the engine tracks (see redactions.go).
type Redaction struct {
	EventID string
	Sender  string
	// Redacts is the redacted event: top-level `redacts` before room
	// version 11, content.redacts from 11 on (the codec reads both).
	Redacts string
	// Invalid says why the codec could not tell which event is redacted.
	Invalid string
}

// Tick fires due deadlines (timers live in the database as deadlines).
type Tick struct{}

// AdminRelease frees the floor on an operator's request (admin API or
// `!walkie release`). Holder and Term are the turn the operator saw: an
// overdue deadline may have handed the floor on before the release is
// decided, and the next holder must not lose a turn nobody meant to end.
type AdminRelease struct {
	By     string
	Holder Device
	Term   int64
}

func (TalkRequest) input()    {}
func (BroadcastInfo) input()  {}
func (Chunk) input()          {}
func (PermitChange) input()   {}
func (MemberChange) input()   {}
func (PowerChange) input()    {}
func (ConfigChange) input()   {}
func (FloorStateSeen) input() {}
func (RoomCreate) input()     {}
func (Redaction) input()      {}
func (Tick) input()           {}
func (Snapshot) input()       {}
func (AdminRelease) input()   {}

// Env is what the engine may ask of the world while deciding.
type Env struct {
	// Now is the database's clock, never the process's.
	Now time.Time
	// Sent is the input's origin_server_ts and Received the moment its
	// event reached the controller (the inbox's clock, which is Now's);
	// both zero for inputs that are not events. See Room.activityTime.
	Sent, Received time.Time
	// BusyElsewhere reports whether the device holds the floor in another
	// room. Nil means never.
	BusyElsewhere func(Device) bool
	// ManagePowerLevels is the operator's floor.manage_power_levels: may
	// the controller set a room's power levels up (setup.go)?
	ManagePowerLevels bool
	// LiveAvailable: the operator set up an SFU (config livekit), so a
	// room may switch to live mode (live.go).
	LiveAvailable bool
}
