package floor

// Live mode (PROTOCOL.md "Live mode"): the room's audio runs on an SFU
// (LiveKit) rather than in voice broadcast chunks, and the floor is held
// on the media itself. Every participant joins unable to publish; the
// engine asks for the holder's publish permission on each grant and takes
// it back when the turn ends, so a device without the floor cannot put a
// packet on the air whatever its client does. Activity is the holder's
// published audio, reported by the SFU: a talker whose track or connection
// ends loses the floor at once, and start_timeout means granted but not
// publishing.

import "slices"

// Room modes (floor_config "mode").
const (
	ModeBroadcast = "broadcast"
	ModeLive      = "live"
)

// Live reports whether the room's floor is held on the SFU.
func (c Config) Live() bool { return c.Mode == ModeLive }

// MediaEventKind is what the SFU reported about a participant.
type MediaEventKind string

const (
	MediaJoined      MediaEventKind = "joined"      // the device joined the SFU room
	MediaPublished   MediaEventKind = "published"   // it published an audio track
	MediaUnpublished MediaEventKind = "unpublished" // its audio track ended
	MediaLeft        MediaEventKind = "left"        // it left the SFU room
)

// MediaEvent is one thing the SFU reported (a LiveKit webhook, or the
// reconciler finding a participant gone).
type MediaEvent struct {
	Kind   MediaEventKind
	Device Device
	// ID identifies the report for the floor log (a webhook's ID).
	ID string
}

func (MediaEvent) input() {}

// onMedia applies an SFU report. Reports about anyone but the holder ask
// for nothing, except a publication or a join: only a lapse lets a device
// without the floor publish (a permission taken back while the SFU was
// unreachable), and a device that joins may carry a token LiveKit
// refreshed while it held the floor, which still says it may publish. Both
// are withdrawn again.
func (d *decider) onMedia(in MediaEvent) {
	r := d.r
	if !r.Config.Live() || r.Passive || !r.Managed {
		d.note(LogIgnoreMedia, in.Device, "not a live room", in.ID)
		return
	}
	h := r.Holder
	isHolder := h != nil && h.Device == in.Device
	switch {
	case in.Kind == MediaPublished && isHolder:
		h.Publishing, h.Phase, h.LastActivity = true, PhaseTalking, d.now
		if h.StartedAt.IsZero() {
			h.StartedAt = d.now
		}
		d.record(LogStarted, h.Device, "", in.ID)
	case in.Kind == MediaPublished:
		d.note(LogMediaWithdrawn, in.Device, "published without the floor", in.ID)
		d.allowMedia(in.Device, false)
	case in.Kind == MediaJoined && isHolder:
		// A holder that (re)joins holds a token that cannot publish.
		d.allowMedia(h.Device, true)
	case in.Kind == MediaJoined:
		d.allowMedia(in.Device, false)
	case (in.Kind == MediaUnpublished || in.Kind == MediaLeft) && isHolder:
		d.summarise(h)
		d.freeFloor(ReasonInactive, StatusRevoked, true)
	default:
		d.note(LogIgnoreMedia, in.Device, string(in.Kind)+" (not the holder)", in.ID)
	}
}

// allowMedia asks the SFU to let dev publish its microphone, or not.
func (d *decider) allowMedia(dev Device, allow bool) {
	d.effects = append(d.effects, Effect{Kind: EffectMediaPermission, Device: &dev, Allow: allow})
}

// onModeChange follows a floor_config that switched the room into or out
// of live mode while someone holds the floor: the holder's publish
// permission follows the mode.
func (d *decider) onModeChange(wasLive bool) {
	h := d.r.Holder
	if h == nil || wasLive == d.r.Config.Live() {
		return
	}
	d.allowMedia(h.Device, !wasLive)
	if wasLive {
		h.Publishing = false
	}
}

// mediaFirst moves the SFU permission changes ahead of every other effect,
// in their order (a withdrawal made before a grant stays before it): they
// take milliseconds, while each Matrix event takes a homeserver round
// trip, and a revoked talker must go quiet before anyone reads why.
func mediaFirst(effects []Effect) []Effect {
	if !slices.ContainsFunc(effects, func(e Effect) bool { return e.Kind == EffectMediaPermission }) {
		return effects // broadcast mode, and most live decisions: nothing to move
	}
	media := make([]Effect, 0, 2)
	rest := make([]Effect, 0, len(effects))
	for _, e := range effects {
		if e.Kind == EffectMediaPermission {
			media = append(media, e)
		} else {
			rest = append(rest, e)
		}
	}
	return append(media, rest...)
}
