package livekit

import "github.com/livekit/protocol/livekit"

// permission is the whole permission set of a participant in a live-mode
// room: always every field, since a token's omitted canPublish means yes
// and UpdateParticipant replaces the set as a whole. The floor decides
// publish; everything else is fixed.
func permission(publish bool) *livekit.ParticipantPermission {
	return &livekit.ParticipantPermission{
		CanSubscribe: true,
		CanPublish:   publish,
		// Only the microphone, and only while publish holds: a source list
		// does not override CanPublish false.
		CanPublishSources: []livekit.TrackSource{livekit.TrackSource_MICROPHONE},
		// Data messages would be a side channel past the floor.
		CanPublishData: false,
		// The attributes name the Matrix user and device Walkie checked;
		// a participant must not rewrite them.
		CanUpdateMetadata:     false,
		Hidden:                false,
		CanSubscribeMetrics:   false,
		CanManageAgentSession: false,
		// Recorder and Agent (deprecated) stay false too: in protobuf an
		// absent field is false, and the server replaces the whole set.
	}
}
