package floor

// Reason says why a request was denied or queued, or why a turn or a
// place in the queue ended. Clients switch on it (talk_response `reason`),
// the floor log stores it and metrics label by it, so the values never
// change.
type Reason string

// Denial reasons (PROTOCOL.md "Floor requests").
const (
	ReasonNoPermit          Reason = "no_permit"
	ReasonPermitExpired     Reason = "permit_expired"
	ReasonListenOnly        Reason = "listen_only"
	ReasonNotJoined         Reason = "not_joined"
	ReasonInsufficientPower Reason = "insufficient_power"
	ReasonFloorTaken        Reason = "floor_taken"
	ReasonQueueFull         Reason = "queue_full"
	ReasonBusyElsewhere     Reason = "busy_elsewhere"
	ReasonStaleTerm         Reason = "stale_term"
	ReasonRateLimited       Reason = "rate_limited"
	ReasonBadRequest        Reason = "bad_request"
	ReasonRoomNotManaged    Reason = "room_not_managed"
)

// Revocation and release reasons. A holder who loses its permit or power
// keeps the denial reason that would refuse it now (permit_expired,
// listen_only, insufficient_power); see holderLossReason.
const (
	ReasonPreempted    Reason = "preempted"
	ReasonNoMedia      Reason = "no_media"
	ReasonInactive     Reason = "inactive"
	ReasonMaxTalkTime  Reason = "max_talk_time"
	ReasonPaused       Reason = "pause_timeout"
	ReasonChair        Reason = "chair_revoke"
	ReasonLeft         Reason = "left_room"
	ReasonPermitGone   Reason = "permit_revoked"
	ReasonQueueTimeout Reason = "queue_timeout"
	ReasonReleased     Reason = "released"
	ReasonStopped      Reason = "stopped"
	ReasonAdmin        Reason = "admin_release"
	// ReasonControllerLeft: Walkie left the room or was removed; the
	// floor it left behind holds nobody. Logged, never sent.
	ReasonControllerLeft Reason = "controller_left"
)

// explanations say, for people, what each denial reason means. They end up
// in redaction reasons, which every client shows, including those that do
// not know the floor protocol.
var explanations = map[Reason]string{
	ReasonNoPermit:          "this device has published no talk permit",
	ReasonPermitExpired:     "this device's talk permit has expired",
	ReasonListenOnly:        "this device's talk permit is listen-only",
	ReasonNotJoined:         "the sender is not joined to the room",
	ReasonInsufficientPower: "the sender may not send voice broadcasts in this room",
	ReasonFloorTaken:        "someone else holds the floor",
	ReasonQueueFull:         "the floor queue is full",
	ReasonBusyElsewhere:     "this device holds the floor in another room",
	ReasonStaleTerm:         "the broadcast was started for an old floor term",
	ReasonRateLimited:       "this device asks for the floor too often",
	ReasonBadRequest:        "the request is malformed",
	ReasonRoomNotManaged:    "Walkie lacks the power to manage this room",
}

// Explain returns a sentence for a denial reason ("" for unknown reasons).
func Explain(reason Reason) string { return explanations[reason] }
