package floor

// LogAction names what one floor-log line records. The values are stored
// in floor_log.action and matched by metrics and by operators' queries, so
// they never change.
type LogAction string

// The floor's decisions. Their Reason is a Reason code (empty for grants,
// regrants and cancels); metrics count them by it.
const (
	LogGrant        LogAction = "grant"         // the device got the floor under a new term
	LogRegrant      LogAction = "regrant"       // the holder asked again; nothing changed
	LogQueue        LogAction = "queue"         // the device waits (floor_taken)
	LogDeny         LogAction = "deny"          // the request was refused
	LogRelease      LogAction = "release"       // the holder's turn ended by its own doing (release, stopped, pause_timeout)
	LogRevoke       LogAction = "revoke"        // the controller or a chair ended the turn
	LogCancel       LogAction = "cancel"        // the device took itself out of the queue
	LogDrop         LogAction = "drop"          // the device lost its place: timed out, no longer eligible, queue trimmed, a chair
	LogAdminRelease LogAction = "admin_release" // an operator freed the floor (Device is the operator)
	// LogAdminReleaseStale: an operator's release came after the turn it
	// was meant for had ended; nothing was released. Reason is a detail.
	LogAdminReleaseStale LogAction = "admin_release_stale"
)

// The holder's broadcast, and broadcasts that do not hold the floor. The
// Reason of the last three is a detail for people.
const (
	LogStarted              LogAction = "started"
	LogPaused               LogAction = "paused"
	LogResumed              LogAction = "resumed"
	LogRedactChunk          LogAction = "redact_chunk"
	LogInvalidBroadcastInfo LogAction = "invalid_broadcast_info"
	LogIgnoreBroadcastInfo  LogAction = "ignore_broadcast_info"
)

// Live mode: the SFU's reports (live.go). The holder's published track is
// logged as LogStarted. The Reason is a detail for people.
const (
	LogIgnoreMedia    LogAction = "ignore_media"    // a report that asks for nothing
	LogMediaWithdrawn LogAction = "media_withdrawn" // a device published without the floor; its permission is withdrawn again
)

// Room state the engine took in. A Reason here is a detail for people:
// the membership for LogLeft, the rejected keys for LogConfig, what was
// wrong for the rejected permits.
const (
	LogPermit            LogAction = "permit"
	LogPermitRevoked     LogAction = "permit_revoked"
	LogInvalidPermit     LogAction = "invalid_permit"
	LogForgedPermit      LogAction = "forged_permit" // someone published a permit for another user's device
	LogPermitLimit       LogAction = "permit_limit"  // a new permit refused: its user or the room holds the most allowed
	LogLeft              LogAction = "left"
	LogPower             LogAction = "power"
	LogConfig            LogAction = "config"
	LogSnapshot          LogAction = "snapshot"
	LogPassive           LogAction = "passive"             // another controller owns the room
	LogForeignFloorState LogAction = "foreign_floor_state" // someone overwrote ours; we republish
	// LogOverwriteLimit: overwrites came too often (the loop breaker);
	// ours goes up again with the next change of the floor.
	LogOverwriteLimit LogAction = "overwrite_limit"
	// LogSnapshotStale: a Snapshot ignored because state events were
	// applied while it was being loaded.
	LogSnapshotStale LogAction = "snapshot_stale"
	// LogRedacted: a tracked event (a permit, the holder's `started`, the
	// floor_config) was redacted; the lines after it say what that ended.
	// LogRedactionIgnored: a redaction of a tracked event that counts for
	// nothing (no homeserver would apply it, or it names no event).
	// EventID is the redacted event, the reason names the redaction.
	LogRedacted         LogAction = "redacted"
	LogRedactionIgnored LogAction = "redaction_ignored"
	// LogPowerSetup: Room setup ran (once per room, see setup.go). Reason
	// lists the event types it asked to add, or says none were missing.
	LogPowerSetup LogAction = "power_setup"
)

// LogEntry is one line of the append-only floor log (audit).
type LogEntry struct {
	Action LogAction `json:"action"`
	Device Device    `json:"device"`
	Term   int64     `json:"term"`
	// Reason is a Reason code for the floor's decisions and a detail for
	// people on the other lines (see the LogAction groups).
	Reason  Reason `json:"reason,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

// record appends one floor-log line at the current term.
func (d *decider) record(action LogAction, dev Device, reason Reason, eventID string) {
	d.log = append(d.log, LogEntry{Action: action, Device: dev, Term: d.r.Term, Reason: reason, EventID: eventID})
}

// note is record for lines whose reason field carries a detail for people
// (what was wrong with an input, who sent it) rather than a Reason code.
func (d *decider) note(action LogAction, dev Device, detail, eventID string) {
	d.record(action, dev, Reason(detail), eventID)
}
