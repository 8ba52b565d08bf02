package floor

import (
	"strings"
	"testing"
	"time"
)

func started(dev Device, term int64) BroadcastInfo {
	return BroadcastInfo{EventID: "$bc", Sender: dev.UserID, DeviceID: dev.DeviceID, State: BroadcastStarted, Term: term}
}

func update(dev Device, state string) BroadcastInfo {
	return BroadcastInfo{EventID: "$u", Sender: dev.UserID, State: state, StartedEventID: "$bc-" + dev.DeviceID}
}

func chunk(sender Device, broadcast string) Chunk {
	return Chunk{EventID: "$c", Sender: sender.UserID, BroadcastEventID: broadcast}
}

func broadcastRules() []rule {
	withChunks := started(alice, 8)
	withChunks.ChunkLength = 2 * time.Second
	return []rule{
		{
			name:    "started/holder begins talking",
			room:    newTestRoom(holding(alice, PhaseGranted), with(func(r *Room) { r.Term = 8 })),
			in:      withChunks,
			at:      time.Second,
			effects: []string{"floor"}, // the broadcast event ID is new
			log:     []string{"started"},
			holder:  &alice,
			term:    8,
			check: func(t *testing.T, d Decision) {
				h := d.Room.Holder
				if h.Phase != PhaseTalking || h.BroadcastEventID != "$bc" || !h.LastActivity.Equal(t0.Add(time.Second)) || h.ChunkLength != 2*time.Second {
					t.Errorf("holder %+v", h)
				}
			},
		},
		{
			name:    "started/stale term redacted and denied",
			room:    newTestRoom(holding(alice, PhaseGranted)),
			in:      started(alice, 6),
			effects: []string{"redact $bc", "resp ALICE denied stale_term re $bc"},
			log:     []string{"deny"},
			holder:  &alice,
			check: func(t *testing.T, d Decision) {
				if d.Room.Holder.Phase != PhaseGranted || d.Room.Holder.BroadcastEventID != "" {
					t.Errorf("a stale start changed the holder: %+v", d.Room.Holder)
				}
			},
		},
		{
			name:    "started/idle floor grants the broadcast without a response",
			room:    newTestRoom(),
			in:      started(bob, 0),
			effects: []string{"floor"},
			log:     []string{"grant"},
			holder:  &bob,
			term:    8,
			check: func(t *testing.T, d Decision) {
				h := d.Room.Holder
				if h.Phase != PhaseTalking || h.BroadcastEventID != "$bc" || h.RequestEventID != "$bc" {
					t.Errorf("holder %+v", h)
				}
				if fs := effectOf(t, d, EffectFloorState).Floor; fs.BroadcastEventID != "$bc" {
					t.Errorf("floor state broadcast %q", fs.BroadcastEventID)
				}
			},
		},
		{
			name:    "started/busy floor redacts and queues",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      started(bob, 0),
			effects: []string{"redact $bc", "resp BOB queued floor_taken #1 re $bc", "floor"},
			log:     []string{"queue"},
			holder:  &alice,
			queue:   []Device{bob},
			check: func(t *testing.T, d Decision) {
				reason := effectOf(t, d, EffectRedact).Reason
				if !strings.Contains(reason, "floor_taken") || !strings.Contains(reason, "@alice:example.org holds the floor") {
					t.Errorf("redaction reason %q", reason)
				}
			},
		},
		{
			name:    "started/without a queue redacts and denies floor_taken",
			room:    newTestRoom(holding(alice, PhaseTalking), configured(func(c *Config) { c.Queue = false })),
			in:      started(bob, 0),
			effects: []string{"redact $bc", "resp BOB denied floor_taken re $bc"},
			log:     []string{"deny"},
			holder:  &alice,
		},
		{
			name:    "started/ineligible device redacted and denied",
			room:    newTestRoom(),
			in:      started(mallory, 0),
			effects: []string{"redact $bc", "resp MALLORY denied no_permit re $bc"},
			log:     []string{"deny"},
			// Remembered with no grace, so its chunks are redacted even
			// when they arrive encrypted.
			check: wantGrace("$bc", t0),
		},
		{
			name:    "started/unmanaged room denies without redaction",
			room:    newTestRoom(unmanaged),
			in:      started(bob, 0),
			effects: []string{"resp BOB denied room_not_managed re $bc"},
			log:     []string{"deny"},
		},
		{
			name:   "started/passive room ignored",
			room:   newTestRoom(with(func(r *Room) { r.Passive = true })),
			in:     started(bob, 0),
			holder: nil,
		},
		{
			name:   "paused/holder pauses",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     update(alice, BroadcastPaused),
			at:     2 * time.Second,
			log:    []string{"paused"},
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				if h := d.Room.Holder; h.Phase != PhasePaused || !h.PausedAt.Equal(t0.Add(2*time.Second)) {
					t.Errorf("holder %+v", h)
				}
			},
		},
		{
			name:   "resumed/holder resumes",
			room:   newTestRoom(holding(alice, PhasePaused)),
			in:     update(alice, BroadcastResumed),
			at:     2 * time.Second,
			log:    []string{"resumed"},
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				if h := d.Room.Holder; h.Phase != PhaseTalking || !h.PausedAt.IsZero() || !h.LastActivity.Equal(t0.Add(2*time.Second)) {
					t.Errorf("holder %+v", h)
				}
			},
		},
		{
			name:    "stopped/holder's stop releases and the queue advances",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      update(alice, BroadcastStopped),
			at:      4 * time.Second,
			effects: []string{"floor", "resp BOB granted re $q-BOB"},
			log:     []string{"release", "grant"},
			holder:  &bob,
			term:    8,
			check:   wantGrace("$bc-ALICE", t0.Add(7*time.Second)),
		},
		{
			name: "stopped/summary notice when enabled",
			room: newTestRoom(holding(alice, PhaseTalking), configured(func(c *Config) { c.Summary = true }),
				with(func(r *Room) { r.Holder.LastActivity = t0.Add(11 * time.Second) })),
			in:      update(alice, BroadcastStopped),
			at:      12 * time.Second,
			effects: []string{"notice", "floor"},
			log:     []string{"release"},
			check: func(t *testing.T, d Decision) {
				n := effectOf(t, d, EffectNotice)
				if n.Text != "@alice:example.org spoke for 12 s" || n.RelatesTo != "$bc-ALICE" {
					t.Errorf("summary %q relates to %q", n.Text, n.RelatesTo)
				}
			},
		},
		{
			name:   "stopped/from a non-holder ignored",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     update(bob, BroadcastStopped),
			log:    []string{"ignore_broadcast_info"},
			holder: &alice,
		},
		{
			name:   "broadcast info/invalid ignored with a log entry",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     BroadcastInfo{EventID: "$u", Sender: alice.UserID, Invalid: "state missing"},
			log:    []string{"invalid_broadcast_info"},
			holder: &alice,
		},
		{
			// Its chunks would be audible beside alice's: it is a refused
			// start, answered without a device_id nobody could match.
			name:    "started/without device_id is refused, redacted and remembered",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      BroadcastInfo{EventID: "$bc", Sender: bob.UserID, State: BroadcastStarted},
			effects: []string{"redact $bc", "resp denied bad_request re $bc"},
			log:     []string{"invalid_broadcast_info", "deny"},
			holder:  &alice,
			check: func(t *testing.T, d Decision) {
				wantGrace("$bc", t0)(t, d)
				resp := effectOf(t, d, EffectResponse).Response
				if resp.Device.DeviceID != "" || resp.Error != "started without device_id" {
					t.Errorf("response %+v", resp)
				}
				if reason := effectOf(t, d, EffectRedact).Reason; !strings.Contains(reason, "bad_request") {
					t.Errorf("redaction reason %q", reason)
				}
			},
		},
		{
			name: "started/with a mistyped field is refused, redacted and remembered",
			room: newTestRoom(holding(alice, PhaseTalking)),
			in: BroadcastInfo{EventID: "$bc", Sender: bob.UserID, DeviceID: bob.DeviceID, State: BroadcastStarted,
				Invalid: "chunk_length must be a number"},
			effects: []string{"redact $bc", "resp BOB denied bad_request re $bc"},
			log:     []string{"invalid_broadcast_info", "deny"},
			holder:  &alice,
			check:   wantGrace("$bc", t0),
		},
		{
			name: "chunk/of a refused start redacted at once",
			room: newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) {
				Decide(r, BroadcastInfo{EventID: "$bad", Sender: bob.UserID, State: BroadcastStarted}, Env{Now: t0})
			})),
			in:      chunk(bob, "$bad"),
			effects: []string{"redact $c"},
			log:     []string{"redact_chunk"},
			holder:  &alice,
		},
		{
			name:   "paused/sent again does not extend pause_grace",
			room:   newTestRoom(holding(alice, PhasePaused)),
			in:     update(alice, BroadcastPaused),
			at:     2 * time.Second,
			log:    []string{"ignore_broadcast_info"},
			holder: &alice,
			check:  wantNextDeadline(t0.Add(3 * time.Second)),
		},
	}
}

func chunkRules() []rule {
	ended := with(func(r *Room) {
		r.Revoked = []RevokedBroadcast{{EventID: "$bc-old", GraceUntil: t0.Add(3 * time.Second)}}
	})
	return []rule{
		{
			name:   "chunk/holder's broadcast keeps the turn alive",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     chunk(alice, "$bc-ALICE"),
			at:     8 * time.Second,
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				if !d.Room.Holder.LastActivity.Equal(t0.Add(8 * time.Second)) {
					t.Errorf("last activity %v", d.Room.Holder.LastActivity)
				}
			},
		},
		{
			name: "chunk/ended broadcast tolerated during grace",
			room: newTestRoom(ended),
			in:   chunk(bob, "$bc-old"),
			at:   2 * time.Second,
		},
		{
			name:    "chunk/ended broadcast redacted after grace",
			room:    newTestRoom(ended),
			in:      chunk(bob, "$bc-old"),
			at:      3 * time.Second,
			effects: []string{"redact $c"},
			log:     []string{"redact_chunk"},
		},
		{
			name: "chunk/ended broadcast still known long after grace",
			room: newTestRoom(with(func(r *Room) {
				r.Revoked = []RevokedBroadcast{{EventID: "$bc-old", GraceUntil: t0.Add(3 * time.Second), ForgetAt: t0.Add(time.Hour)}}
			})),
			in:      chunk(bob, "$bc-old"),
			at:      30 * time.Minute,
			effects: []string{"redact $c"},
			log:     []string{"redact_chunk"},
			check: func(t *testing.T, d Decision) {
				if len(d.Room.Revoked) != 1 {
					t.Errorf("the broadcast must be remembered until ForgetAt: %v", d.Room.Revoked)
				}
			},
		},
		{
			name: "chunk/broadcast forgotten at ForgetAt",
			room: newTestRoom(with(func(r *Room) {
				r.Revoked = []RevokedBroadcast{{EventID: "$bc-old", GraceUntil: t0, ForgetAt: t0.Add(time.Minute)}}
			})),
			in: Tick{},
			at: time.Minute,
			check: func(t *testing.T, d Decision) {
				if len(d.Room.Revoked) != 0 {
					t.Errorf("forgotten broadcasts must be pruned: %v", d.Room.Revoked)
				}
			},
		},
		{
			name:    "chunk/unknown broadcast redacted",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      chunk(bob, "$bc-BOB"),
			effects: []string{"redact $c"},
			log:     []string{"redact_chunk"},
			holder:  &alice,
		},
		{
			name:    "chunk/holder's broadcast from another sender redacted",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      chunk(bob, "$bc-ALICE"),
			effects: []string{"redact $c"},
			log:     []string{"redact_chunk"},
			holder:  &alice,
		},
		{
			name: "chunk/unmanaged room ignored",
			room: newTestRoom(unmanaged),
			in:   chunk(bob, "$bc-BOB"),
		},
	}
}
