package floor

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

// Request actions of talk_request. They stay untyped: they arrive as
// whatever string a client sent, and an unknown one is answered
// bad_request rather than refused by the parser.
const (
	ActionRequest = "request"
	ActionRelease = "release"
	ActionCancel  = "cancel"
	ActionRevoke  = "revoke"
)

// Broadcast states of voice_broadcast_info (MSC3888), untyped for the
// same reason as the request actions.
const (
	BroadcastStarted = "started"
	BroadcastPaused  = "paused"
	BroadcastResumed = "resumed"
	BroadcastStopped = "stopped"
)
