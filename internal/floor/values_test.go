package floor

import "testing"

// The floor log stores these values, clients switch on them and metrics
// label by them: renaming a constant must never change its value.
func TestStoredAndSentValuesNeverChange(t *testing.T) {
	values := []struct {
		got  string
		want string
	}{
		{string(LogGrant), "grant"}, {string(LogRegrant), "regrant"}, {string(LogQueue), "queue"},
		{string(LogDeny), "deny"}, {string(LogRelease), "release"}, {string(LogRevoke), "revoke"},
		{string(LogCancel), "cancel"}, {string(LogDrop), "drop"}, {string(LogAdminRelease), "admin_release"},
		{string(LogAdminReleaseStale), "admin_release_stale"},
		{string(LogStarted), "started"}, {string(LogPaused), "paused"}, {string(LogResumed), "resumed"},
		{string(LogRedactChunk), "redact_chunk"}, {string(LogInvalidBroadcastInfo), "invalid_broadcast_info"},
		{string(LogIgnoreBroadcastInfo), "ignore_broadcast_info"}, {string(LogPermit), "permit"},
		{string(LogPermitRevoked), "permit_revoked"}, {string(LogInvalidPermit), "invalid_permit"},
		{string(LogForgedPermit), "forged_permit"}, {string(LogLeft), "left"}, {string(LogPower), "power"},
		{string(LogConfig), "config"}, {string(LogSnapshot), "snapshot"}, {string(LogPassive), "passive"},
		{string(LogForeignFloorState), "foreign_floor_state"}, {string(LogSnapshotStale), "snapshot_stale"},
		{string(LogRedacted), "redacted"}, {string(LogRedactionIgnored), "redaction_ignored"},
		{string(LogPowerSetup), "power_setup"}, {string(EffectSetupPowerLevels), "setup_power_levels"},

		{string(ReasonNoPermit), "no_permit"}, {string(ReasonPermitExpired), "permit_expired"},
		{string(ReasonListenOnly), "listen_only"}, {string(ReasonNotJoined), "not_joined"},
		{string(ReasonInsufficientPower), "insufficient_power"}, {string(ReasonFloorTaken), "floor_taken"},
		{string(ReasonQueueFull), "queue_full"}, {string(ReasonBusyElsewhere), "busy_elsewhere"},
		{string(ReasonStaleTerm), "stale_term"}, {string(ReasonRateLimited), "rate_limited"},
		{string(ReasonBadRequest), "bad_request"}, {string(ReasonRoomNotManaged), "room_not_managed"},
		{string(ReasonPreempted), "preempted"}, {string(ReasonNoMedia), "no_media"},
		{string(ReasonInactive), "inactive"}, {string(ReasonMaxTalkTime), "max_talk_time"},
		{string(ReasonPaused), "pause_timeout"}, {string(ReasonChair), "chair_revoke"},
		{string(ReasonLeft), "left_room"}, {string(ReasonPermitGone), "permit_revoked"},
		{string(ReasonQueueTimeout), "queue_timeout"}, {string(ReasonReleased), "released"},
		{string(ReasonStopped), "stopped"}, {string(ReasonAdmin), "admin_release"},

		{string(StatusGranted), "granted"}, {string(StatusQueued), "queued"}, {string(StatusDenied), "denied"},
		{string(StatusReleased), "released"}, {string(StatusCancelled), "cancelled"}, {string(StatusRevoked), "revoked"},
	}
	for _, v := range values {
		if v.got != v.want {
			t.Errorf("value %q changed to %q", v.want, v.got)
		}
	}
}
