package floor

import (
	"slices"
	"time"
)

// FloorState is the org.matrix.msc4002.floor content describing the room
// at now (listeners are the devices whose receive permit is valid at now).
func (r *Room) FloorState(now time.Time) FloorState {
	fs := FloorState{Term: r.Term, Queue: make([]Device, 0, len(r.Queue)), Listeners: r.listeners(now)}
	if h := r.Holder; h != nil {
		holder := h.Device
		fs.Holder = &holder
		fs.GrantedTS = h.GrantedAt.UnixMilli()
		fs.ExpiresTS = r.talkExpiry(h).UnixMilli()
		fs.BroadcastEventID = h.BroadcastEventID
	}
	for _, e := range r.Queue {
		fs.Queue = append(fs.Queue, e.Device)
	}
	if r.Config.Live() {
		fs.Mode = ModeLive
	}
	return fs
}

// talkExpiry is when max_talk (MCPTT T2) ends the holder's turn.
func (r *Room) talkExpiry(h *Holder) time.Time { return h.GrantedAt.Add(r.Config.MaxTalk) }

// listeners counts devices with a valid receive permit (MSC4002: the
// audience of a broadcast). Listen-only permits count.
func (r *Room) listeners(now time.Time) int { return r.audience().Listeners.at(now) }

// ValidPermits counts the permits that are valid at now: a joined
// member's, not expired (listen-only ones included).
func (r *Room) ValidPermits(now time.Time) int { return r.audience().Permits.at(now) }

// sameFloor reports whether publishing b after a would tell clients nothing new.
func sameFloor(a, b FloorState) bool {
	if (a.Holder == nil) != (b.Holder == nil) || (a.Holder != nil && *a.Holder != *b.Holder) {
		return false
	}
	return a.Term == b.Term && a.GrantedTS == b.GrantedTS && a.ExpiresTS == b.ExpiresTS &&
		a.BroadcastEventID == b.BroadcastEventID && a.Listeners == b.Listeners && a.Mode == b.Mode &&
		slices.Equal(a.Queue, b.Queue)
}
