// Package floor is Walkie's floor-control state machine: every rule of
// docs/protocol.md (the PROTOCOL.md contract) lives here as plain Go.
//
// It imports neither mautrix nor pgx on purpose. The store loads a Room,
// calls Decide with one Input and the database's clock, and writes back the
// Room, the Effects (to the outbox) and the Log entries (to the floor log) in
// the same database transaction. Nothing here does I/O, so every rule can be
// pinned by a table test.
package floor

import "time"

// Event types of the protocol (unstable namespace). The Matrix adapter
// registers them with mautrix; the engine only needs their names for
// power-level checks.
const (
	TypePermit      = "org.matrix.msc4002.talk_permit"
	TypeRequest     = "org.matrix.msc4002.talk_request"
	TypeResponse    = "org.matrix.msc4002.talk_response"
	TypeFloor       = "org.matrix.msc4002.floor"
	TypeFloorConfig = "org.matrix.msc4002.floor_config"

	TypeBroadcastInfo        = "m.voice_broadcast_info"
	TypeBroadcastInfoMSC3888 = "org.matrix.msc3888.voice_broadcast_info"
	TypeBroadcastInfoElement = "io.element.voice_broadcast_info"

	// TermKey is the key a client puts into its `started` content to fence
	// against stale grants.
	TermKey = "org.matrix.msc4002.term"
)

// BroadcastInfoTypes lists every accepted voice_broadcast_info dialect.
var BroadcastInfoTypes = []string{TypeBroadcastInfo, TypeBroadcastInfoMSC3888, TypeBroadcastInfoElement}

// Denial reasons (PROTOCOL.md "Floor requests"). Clients switch on these.
const (
	ReasonNoPermit          = "no_permit"
	ReasonPermitExpired     = "permit_expired"
	ReasonListenOnly        = "listen_only"
	ReasonNotJoined         = "not_joined"
	ReasonInsufficientPower = "insufficient_power"
	ReasonFloorTaken        = "floor_taken"
	ReasonQueueFull         = "queue_full"
	ReasonBusyElsewhere     = "busy_elsewhere"
	ReasonStaleTerm         = "stale_term"
	ReasonRateLimited       = "rate_limited"
	ReasonBadRequest        = "bad_request"
	ReasonRoomNotManaged    = "room_not_managed"
)

// Revocation / release reasons.
const (
	ReasonPreempted    = "preempted"
	ReasonNoMedia      = "no_media"
	ReasonInactive     = "inactive"
	ReasonMaxTalkTime  = "max_talk_time"
	ReasonPaused       = "pause_timeout"
	ReasonChair        = "chair_revoke"
	ReasonLeft         = "left_room"
	ReasonPermitGone   = "permit_revoked"
	ReasonPowerLost    = "insufficient_power"
	ReasonQueueTimeout = "queue_timeout"
	ReasonReleased     = "released"
	ReasonStopped      = "stopped"
	ReasonAdmin        = "admin_release"
)

// Response statuses of talk_response.
const (
	StatusGranted   = "granted"
	StatusQueued    = "queued"
	StatusDenied    = "denied"
	StatusReleased  = "released"
	StatusCancelled = "cancelled"
	StatusRevoked   = "revoked"
)

// Request actions of talk_request.
const (
	ActionRequest = "request"
	ActionRelease = "release"
	ActionCancel  = "cancel"
	ActionRevoke  = "revoke"
)

// Broadcast states of voice_broadcast_info (MSC3888).
const (
	BroadcastStarted = "started"
	BroadcastPaused  = "paused"
	BroadcastResumed = "resumed"
	BroadcastStopped = "stopped"
)

// Device is a participant device: permits, requests and the floor belong to
// devices, not users (MSC4002: "Permission is device based").
type Device struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
}

// PermitStateKey is the state key of a device's talk permit: `_@user:server_DEVICEID`.
func (d Device) PermitStateKey() string { return "_" + d.UserID + "_" + d.DeviceID }

// Permit is a talk permit as last published by its device.
type Permit struct {
	Device
	Send      bool      `json:"send"`
	Receive   bool      `json:"receive"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: permanent
	EventID   string    `json:"event_id,omitempty"`
}

// PowerLevels is the part of m.room.power_levels the engine needs.
type PowerLevels struct {
	Users         map[string]int `json:"users,omitempty"`
	UsersDefault  int            `json:"users_default"`
	Events        map[string]int `json:"events,omitempty"`
	EventsDefault int            `json:"events_default"`
	StateDefault  int            `json:"state_default"`
	Redact        int            `json:"redact"`
}

// Config holds a room's effective limits and timers: config.yaml's defaults
// overridden by the room's floor_config state event.
type Config struct {
	StartTimeout      time.Duration `json:"start_timeout"`
	InactivityTimeout time.Duration `json:"inactivity_timeout"`
	MaxTalk           time.Duration `json:"max_talk"`
	PauseGrace        time.Duration `json:"pause_grace"`
	RevokeGrace       time.Duration `json:"revoke_grace"`
	QueueTimeout      time.Duration `json:"queue_timeout"`
	Queue             bool          `json:"queue"`
	MaxQueue          int           `json:"max_queue"`
	PreemptPowerLevel int           `json:"preempt_power_level"`
	// OneRoomPerDevice makes a device that holds the floor in one room get
	// busy_elsewhere in every other room.
	OneRoomPerDevice bool `json:"one_room_per_device"`
	// RateLimit is how many talk requests one device may make per RateWindow
	// in one room; 0 disables the limit.
	RateLimit  int           `json:"rate_limit"`
	RateWindow time.Duration `json:"rate_window"`
	// Summary posts "Alice spoke for 12 s" after a broadcast stops.
	Summary bool `json:"summary"`
}

// Phase of the current holder.
type Phase string

const (
	PhaseGranted Phase = "granted" // granted, no `started` seen yet (start_timeout runs)
	PhaseTalking Phase = "talking" // started or resumed (inactivity_timeout runs)
	PhasePaused  Phase = "paused"  // paused (pause_grace runs)
)

// Holder is the device that holds the floor.
type Holder struct {
	Device
	Phase            Phase     `json:"phase"`
	GrantedAt        time.Time `json:"granted_at"`
	LastActivity     time.Time `json:"last_activity"`
	PausedAt         time.Time `json:"paused_at,omitzero"`
	BroadcastEventID string    `json:"broadcast_event_id,omitempty"`
	// StartedAt is when the current broadcast started; the optional summary
	// ("Alice spoke for 12 s") measures from it.
	StartedAt time.Time `json:"started_at,omitzero"`
	// ChunkLength is the broadcast's declared chunk length; the inactivity
	// timeout is at least 1.5 times it.
	ChunkLength time.Duration `json:"chunk_length,omitempty"`
	Power       int           `json:"power"`
	// RequestEventID is the event that asked for the floor (a talk_request,
	// or the `started` of the implicit path); responses reference it.
	RequestEventID string `json:"request_event_id,omitempty"`
}

// QueueEntry is a device waiting for the floor.
type QueueEntry struct {
	Device
	Power          int       `json:"power"`
	EnqueuedAt     time.Time `json:"enqueued_at"`
	RequestEventID string    `json:"request_event_id,omitempty"`
}

// RevokedBroadcast remembers a broadcast that does not (or no longer) hold
// the floor: chunks still in flight are tolerated until GraceUntil (MCPTT
// T3), later ones are redacted. It is remembered until ForgetAt, well past
// the grace, so that chunks of it are recognised even when they arrive
// encrypted (then only their m.relates_to tells what they belong to).
type RevokedBroadcast struct {
	EventID    string    `json:"event_id"`
	GraceUntil time.Time `json:"grace_until"`
	ForgetAt   time.Time `json:"forget_at,omitzero"`
}

// RateWindow counts one device's requests in the current window.
type RateWindow struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

// Room is everything the engine knows about one room. The store persists it
// whole, one row per room, so one row lock serialises every decision.
type Room struct {
	RoomID     string `json:"room_id"`
	Controller string `json:"controller"` // the bot's user ID
	// Managed: the controller may send floor state and redact here.
	Managed bool `json:"managed"`
	// Passive: another controller owns this room's floor state.
	Passive bool `json:"passive"`
	// PowerNoticeSent: the one "I lack power" notice has been posted.
	PowerNoticeSent bool `json:"power_notice_sent,omitempty"`
	// Published: this controller has sent floor state here at least once
	// (the first to publish owns the room).
	Published bool `json:"published,omitempty"`
	// FirstPublished is the timestamp and event ID of this controller's
	// first floor state as the room saw it: the claim to the room when two
	// controllers published before seeing each other.
	FirstPublished   time.Time `json:"first_published,omitzero"`
	FirstPublishedID string    `json:"first_published_id,omitempty"`

	Term    int64             `json:"term"`
	Holder  *Holder           `json:"holder,omitempty"`
	Queue   []QueueEntry      `json:"queue,omitempty"`
	Permits map[string]Permit `json:"permits,omitempty"` // by permit state key
	// Members maps user ID to membership ("join", "invite", "leave", "ban", "knock").
	Members map[string]string `json:"members,omitempty"`
	Power   PowerLevels       `json:"power"`
	// Config and Defaults are derived (ApplyDefaults, on every load from
	// the store), so they are not stored with the room.
	Config Config `json:"-"`
	// Defaults is config.yaml's floor defaults as last applied (NewRoom,
	// ApplyDefaults): an empty floor_config falls back to them.
	Defaults Config `json:"-"`
	// Overrides is the room's floor_config content as last accepted, kept so
	// a change of config.yaml's defaults still applies to keys it leaves out.
	Overrides map[string]any `json:"overrides,omitempty"`

	Revoked []RevokedBroadcast    `json:"revoked,omitempty"`
	Rate    map[string]RateWindow `json:"rate,omitempty"` // by permit state key

	// StateVersion counts the state events (membership, power, permits,
	// config, floor state) applied from the event stream. A Snapshot read
	// before one of them was applied may miss it, so it must not replace
	// what the engine knows (see Snapshot.AsOf).
	StateVersion int64 `json:"state_version,omitempty"`
}

// Input is one thing that happened to a room.
type Input interface{ input() }

// TalkRequest is an explicit org.matrix.msc4002.talk_request.
type TalkRequest struct {
	EventID  string
	Sender   string
	Action   string
	DeviceID string
	Priority int
	Preempt  bool
	Target   *Device // revoke only; nil or empty: the current holder
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

// Snapshot is the room's whole state as loaded with /state when the
// controller joins (or starts up): it replaces what the engine knew and
// yields at most one floor state and one notice.
type Snapshot struct {
	Power   *PowerLevels // nil: no power_levels event (Matrix defaults apply)
	Members []MemberChange
	Permits []PermitChange
	Config  *ConfigChange
	// FloorSender is the sender of the existing floor state event, if any.
	FloorSender string
	// AsOf is the room's StateVersion read before /state was requested. If
	// the stream applied state events since, /state may predate them (a
	// member who joined while it was loading would be lost): the engine
	// then ignores the snapshot and logs LogSnapshotStale, and the loader
	// asks again.
	AsOf int64
}

// LogSnapshotStale is the floor-log action of a Snapshot ignored because
// state events were applied while it was being loaded.
const LogSnapshotStale = "snapshot_stale"

// Tick fires due deadlines (timers live in the database as deadlines).
type Tick struct{}

// AdminRelease frees the floor on an operator's request (admin API or
// `!walkie release`).
type AdminRelease struct{ By string }

func (TalkRequest) input()    {}
func (BroadcastInfo) input()  {}
func (Chunk) input()          {}
func (PermitChange) input()   {}
func (MemberChange) input()   {}
func (PowerChange) input()    {}
func (ConfigChange) input()   {}
func (FloorStateSeen) input() {}
func (Tick) input()           {}
func (Snapshot) input()       {}
func (AdminRelease) input()   {}

// Env is what the engine may ask of the world while deciding.
type Env struct {
	// Now is the database's clock, never the process's.
	Now time.Time
	// BusyElsewhere reports whether the device holds the floor in another
	// room. Nil means never.
	BusyElsewhere func(Device) bool
}

// EffectKind says what the outbox must send.
type EffectKind string

const (
	EffectFloorState EffectKind = "floor_state" // PUT state org.matrix.msc4002.floor
	EffectResponse   EffectKind = "response"    // PUT send talk_response
	EffectRedact     EffectKind = "redact"      // PUT redact
	EffectNotice     EffectKind = "notice"      // PUT send m.room.message m.notice
)

// Effect is one event the controller must send because of a decision.
type Effect struct {
	Kind     EffectKind  `json:"kind"`
	Floor    *FloorState `json:"floor,omitempty"`
	Response *Response   `json:"response,omitempty"`
	// Redact: the event to redact and the human reason.
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Notice: text, optionally referencing RelatesTo.
	Text      string `json:"text,omitempty"`
	RelatesTo string `json:"relates_to,omitempty"`
}

// Response is the content of a talk_response.
type Response struct {
	Status    string `json:"status"`
	Reason    string `json:"reason,omitempty"`
	Position  int    `json:"position,omitempty"`
	Term      int64  `json:"term,omitempty"`
	ExpiresTS int64  `json:"expires_ts,omitempty"`
	// InReplyTo is the asking event; the adapter turns it into m.reference.
	InReplyTo string  `json:"-"`
	Device    *Device `json:"device,omitempty"`
}

// FloorState is the content of org.matrix.msc4002.floor.
type FloorState struct {
	Holder           *Device  `json:"holder,omitempty"`
	Term             int64    `json:"term"`
	GrantedTS        int64    `json:"granted_ts,omitempty"`
	ExpiresTS        int64    `json:"expires_ts,omitempty"`
	BroadcastEventID string   `json:"broadcast_event_id,omitempty"`
	Queue            []Device `json:"queue"`
	Listeners        int      `json:"listeners"`
}

// LogEntry is one line of the append-only floor log (audit).
type LogEntry struct {
	Action  string `json:"action"` // grant, queue, deny, release, cancel, revoke, drop, config, ...
	Device  Device `json:"device"`
	Term    int64  `json:"term"`
	Reason  string `json:"reason,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

// Decision is what Decide returns: the room afterwards, what to send, what to log.
type Decision struct {
	Room    *Room
	Effects []Effect
	Log     []LogEntry
}
