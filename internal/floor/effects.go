package floor

// EffectKind says what the outbox must send.
type EffectKind string

const (
	EffectFloorState EffectKind = "floor_state" // PUT state org.matrix.msc4002.floor
	EffectResponse   EffectKind = "response"    // PUT send talk_response
	EffectRedact     EffectKind = "redact"      // PUT redact
	EffectNotice     EffectKind = "notice"      // PUT send m.room.message m.notice
	// EffectSetupPowerLevels: GET the latest m.room.power_levels, then PUT
	// it with the levels SetupPowerLevels finds missing there (Room setup).
	EffectSetupPowerLevels EffectKind = "setup_power_levels"
	// EffectMediaPermission: let Device publish its microphone on the
	// room's SFU, or not (Allow), in live mode (live.go).
	EffectMediaPermission EffectKind = "media_permission"
)

// Effect is one event the controller must send because of a decision.
// Decide returns a grant's floor state first and any other last (see finish).
type Effect struct {
	Kind     EffectKind  `json:"kind"`
	Floor    *FloorState `json:"floor,omitempty"`
	Response *Response   `json:"response,omitempty"`
	// Redact: the event to redact and the human reason (a sentence, not a
	// Reason: clients that do not know the protocol show it as it is).
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Notice: text, optionally referencing RelatesTo.
	Text      string `json:"text,omitempty"`
	RelatesTo string `json:"relates_to,omitempty"`
	// MediaPermission: whose, and whether it may publish.
	Device *Device `json:"device,omitempty"`
	Allow  bool    `json:"allow,omitempty"`
}

// Status is the outcome a talk_response announces. Clients switch on it,
// so the values never change.
type Status string

// Response statuses of talk_response.
const (
	StatusGranted   Status = "granted"
	StatusQueued    Status = "queued"
	StatusDenied    Status = "denied"
	StatusReleased  Status = "released"
	StatusCancelled Status = "cancelled"
	StatusRevoked   Status = "revoked"
)

// Response is the content of a talk_response.
type Response struct {
	Status Status `json:"status"`
	Reason Reason `json:"reason,omitempty"`
	// Error says for people what was wrong, on denials: bad_request alone
	// does not tell an unknown action from a missing device_id.
	Error     string `json:"error,omitempty"`
	Position  int    `json:"position,omitempty"`
	Term      int64  `json:"term,omitempty"`
	ExpiresTS int64  `json:"expires_ts,omitempty"`
	// InReplyTo is the asking event; the adapter turns it into m.reference.
	InReplyTo string `json:"-"`
	// Channel is set on the answer to a floor-channel request
	// (TalkRequest.Channel): it goes back to that request's socket, never
	// to the room.
	Channel string `json:"-"`
	// Later is set on a channel answer that is not the asking request's
	// own (that one is returned to the socket that asked): a grant from
	// the queue, a drop from it, the end of a turn the channel request
	// was granted. The asking socket may be gone or served by another
	// process by then, so the answer is delivered to the sockets of
	// Device that follow the room.
	Later  bool       `json:"-"`
	Device *Addressee `json:"device,omitempty"`
}

// ToChannel reports whether the effect is an answer for the floor channel
// rather than an event for the room.
func (e Effect) ToChannel() bool { return e.Kind == EffectResponse && e.Response.Channel != "" }

// Addressee is the device a response is about. An asking event that named
// no device gets a response without device_id: an empty one would match
// no client, while the m.reference to the asking event still does.
type Addressee struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id,omitempty"`
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
	// Mode is "live" in live mode and absent otherwise; LiveKitServiceURL
	// is then the MatrixRTC token service clients name as their focus
	// (the decision package fills it in from config).
	Mode              string `json:"mode,omitempty"`
	LiveKitServiceURL string `json:"livekit_service_url,omitempty"`
}
