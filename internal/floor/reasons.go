package floor

// explanations say, for people, what each denial reason means. They end up
// in redaction reasons, which every client shows, including those that do
// not know the floor protocol.
var explanations = map[string]string{
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
func Explain(reason string) string { return explanations[reason] }
