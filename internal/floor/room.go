package floor

import "time"

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

// Phase of the current holder.
type Phase string

const (
	PhaseGranted Phase = "granted" // granted, no `started` seen yet (start_timeout runs)
	PhaseTalking Phase = "talking" // started or resumed (inactivity_timeout runs); in live mode, publishing
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
	// Publishing: in live mode, the SFU reported the holder's audio track
	// (live.go).
	Publishing bool `json:"publishing,omitempty"`
	// Power is the holder's current power level, for operators (the admin
	// API shows the holder); pre-emption reads the room's power levels.
	Power int `json:"power"`
	// RequestEventID is the event that asked for the floor (a talk_request,
	// or the `started` of the implicit path); responses reference it.
	RequestEventID string `json:"request_event_id,omitempty"`
	// Channel is the floor channel's name of the request that was granted
	// (TalkRequest.Channel), "" for a room event: the turn's later answers
	// (revoked, released by a timer) go to the device's sockets, not to
	// the room (see answerLater).
	Channel string `json:"channel,omitempty"`
}

// QueueEntry is a device waiting for the floor.
type QueueEntry struct {
	Device
	Power          int       `json:"power"`
	EnqueuedAt     time.Time `json:"enqueued_at"`
	RequestEventID string    `json:"request_event_id,omitempty"`
	// Channel is the floor channel's name of the request that queued the
	// device (TalkRequest.Channel), "" for a room event: its later answers
	// (granted from the queue, dropped from it) go to the device's
	// sockets, not to the room (see answerLater).
	Channel string `json:"channel,omitempty"`
}

// RevokedBroadcast remembers a broadcast that does not (or no longer) hold
// the floor: chunks still in flight are tolerated until GraceUntil (MCPTT
// T3), later ones are redacted. It is remembered until ForgetAt, well past
// the grace, so that chunks of it are recognised even when they arrive
// encrypted (then only their m.relates_to tells what they belong to).
type RevokedBroadcast struct {
	EventID string `json:"event_id"`
	// UserID is the broadcaster: each user's share of the memory is
	// bounded (empty for broadcasts remembered before that).
	UserID     string    `json:"user_id,omitempty"`
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
	// PowerSetUp: Room setup has run here (setup.go). It is never cleared,
	// not by a reload nor by leaving and re-joining: a key an admin removes
	// after the setup stays removed.
	PowerSetUp bool `json:"power_set_up,omitempty"`
	// ConfigNoticeFor is the floor_config event whose ignored keys the
	// room was told about: a reload or a re-join reads the same event
	// again, and must not repeat the notice.
	ConfigNoticeFor string `json:"config_notice_for,omitempty"`
	// Published: this controller has sent floor state here since it last
	// joined; until then any decision publishes it.
	Published bool `json:"published,omitempty"`
	// FloorVersion counts the floor states this room's decisions have
	// published (one per EffectFloorState). It only grows: the floor
	// channel orders its pushes by it, across processes.
	FloorVersion int64 `json:"floor_version,omitempty"`
	// FirstPublished is the timestamp and event ID of this controller's
	// first floor state as the room saw it (its echo): its claim to the
	// room, compared with Rival's.
	FirstPublished   time.Time `json:"first_published,omitzero"`
	FirstPublishedID string    `json:"first_published_id,omitempty"`
	// Rival is the earliest floor state anyone else put into the room: a
	// rival controller's claim, or an overwrite. Whichever of it and our
	// own first floor state came first owns the room (controllers.go).
	Rival *FloorClaim `json:"rival,omitempty"`
	// Overwrites counts the floor states put back over someone else's in
	// the current window (the loop breaker, see answerOverwrite).
	Overwrites RateWindow `json:"overwrites,omitzero"`

	Term    int64             `json:"term"`
	Holder  *Holder           `json:"holder,omitempty"`
	Queue   []QueueEntry      `json:"queue,omitempty"`
	Permits map[string]Permit `json:"permits,omitempty"` // by permit state key, changed only through putPermit and deletePermit
	// Audience counts the valid permits and listeners; nil: not counted yet.
	Audience *Audience `json:"audience,omitempty"`
	// Members maps user ID to membership ("join", "invite", "leave", "ban",
	// "knock"); changed only through setMembership.
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
	// ConfigEventID and ConfigSender name the floor_config event the
	// overrides come from ("" when none): its redaction restores the
	// defaults (redactions.go). Rooms stored before they existed track
	// no config event, so a redaction there changes nothing.
	ConfigEventID string `json:"config_event_id,omitempty"`
	ConfigSender  string `json:"config_sender,omitempty"`

	Revoked []RevokedBroadcast    `json:"revoked,omitempty"`
	Rate    map[string]RateWindow `json:"rate,omitempty"` // by permit state key

	// Clock is the activity time of the room's latest decision: the next
	// input is never dated earlier (see activityTime).
	Clock time.Time `json:"clock,omitzero"`

	// StateVersion counts the state events (membership, power, permits,
	// config, others' floor state) applied from the event stream. A
	// Snapshot read before one of them was applied may miss it, so it must
	// not replace what the engine knows (see Snapshot.AsOf). The echo of
	// our own floor state does not count: a snapshot that misses it loses
	// nothing (our claim is kept; at worst we publish once more).
	StateVersion int64 `json:"state_version,omitempty"`
}

// NewRoom returns a room the controller has just learnt about. It is not
// managed until a Snapshot or PowerChange shows that the controller has
// the power to publish floor state and redact.
func NewRoom(roomID, controller string, defaults Config) *Room {
	return &Room{
		RoomID:     roomID,
		Controller: controller,
		Power:      noPowerLevelsEvent(),
		Config:     defaults,
		Defaults:   defaults,
		Permits:    map[string]Permit{},
		Members:    map[string]string{},
		Rate:       map[string]RateWindow{},
	}
}

// ensureMaps makes a room loaded from anywhere safe to write to.
func (r *Room) ensureMaps() {
	if r.Permits == nil {
		r.Permits = map[string]Permit{}
	}
	if r.Members == nil {
		r.Members = map[string]string{}
	}
	if r.Rate == nil {
		r.Rate = map[string]RateWindow{}
	}
}
