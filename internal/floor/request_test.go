package floor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func talk(dev Device, action string) TalkRequest {
	return TalkRequest{EventID: "$r", Sender: dev.UserID, Action: action, DeviceID: dev.DeviceID}
}

func preempting(dev Device) TalkRequest {
	in := talk(dev, ActionRequest)
	in.Preempt = true
	return in
}

func revoking(chair Device, target *Device) TalkRequest {
	in := talk(chair, ActionRevoke)
	in.Target = target
	return in
}

func withTerm(in TalkRequest, term int64) TalkRequest {
	in.Term = term
	return in
}

// wantError asserts that the first response's error says substr.
func wantError(substr string) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if got := effectOf(t, d, EffectResponse).Response.Error; !strings.Contains(got, substr) {
			t.Errorf("error %q lacks %q", got, substr)
		}
	}
}

func configured(f func(*Config)) spec { return func(r *Room) { f(&r.Config) } }

func broadcastLevels(levels ...int) spec {
	return func(r *Room) {
		for i, t := range BroadcastInfoTypes {
			r.Power.Events[t] = levels[i]
		}
	}
}

func requestRules() []rule {
	malformed := talk(alice, ActionRequest)
	malformed.Invalid = "device_id missing"
	return []rule{
		{
			name:    "request/malformed content denied bad_request",
			room:    newTestRoom(),
			in:      malformed,
			effects: []string{"resp ALICE denied bad_request re $r"},
			log:     []string{"deny"},
			check:   wantError("device_id missing"),
		},
		{
			name:    "request/unknown action denied bad_request",
			room:    newTestRoom(),
			in:      talk(alice, "shout"),
			effects: []string{"resp ALICE denied bad_request re $r"},
			log:     []string{"deny"},
			check:   wantError(`unknown action "shout"`),
		},
		{
			name:    "request/without device_id answered without one",
			room:    newTestRoom(),
			in:      TalkRequest{EventID: "$r", Sender: alice.UserID, Action: ActionRequest},
			effects: []string{"resp denied bad_request re $r"},
			log:     []string{"deny"},
			check: func(t *testing.T, d Decision) {
				content, err := json.Marshal(effectOf(t, d, EffectResponse).Response)
				if err != nil {
					t.Fatal(err)
				}
				want := `{"status":"denied","reason":"bad_request","error":"missing device_id","device":{"user_id":"@alice:example.org"}}`
				if string(content) != want {
					t.Errorf("response\n got %s\nwant %s", content, want)
				}
			},
		},
		{
			name:    "request/unmanaged room denied room_not_managed",
			room:    newTestRoom(unmanaged),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied room_not_managed re $r"},
			log:     []string{"deny"},
		},
		{
			name: "request/passive room emits nothing",
			room: newTestRoom(with(func(r *Room) { r.Passive = true })),
			in:   talk(alice, ActionRequest),
		},
		{
			name: "request/rate limited",
			room: newTestRoom(with(func(r *Room) {
				r.Rate[alice.PermitStateKey()] = RateWindow{Start: t0.Add(-10 * time.Second), Count: 5}
			})),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied rate_limited re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/not joined",
			room:    newTestRoom(with(func(r *Room) { r.Members[alice.UserID] = "invite" })),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied not_joined re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/no permit",
			room:    newTestRoom(),
			in:      talk(mallory, ActionRequest),
			effects: []string{"resp MALLORY denied no_permit re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/permit expired",
			room:    newTestRoom(permit(alice, true, true, t0)),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied permit_expired re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/listen-only permit",
			room:    newTestRoom(permit(alice, false, true, time.Time{})),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied listen_only re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/permit without receive is no permit",
			room:    newTestRoom(permit(alice, true, false, time.Time{})),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied no_permit re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/insufficient power to send broadcast info",
			room:    newTestRoom(broadcastLevels(50, 50, 50)),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE denied insufficient_power re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/power for any one broadcast dialect suffices",
			room:    newTestRoom(broadcastLevels(50, 50, 0)),
			in:      talk(alice, ActionRequest),
			effects: []string{"floor", "resp ALICE granted re $r"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
		},
		{
			name:    "request/busy elsewhere",
			room:    newTestRoom(),
			in:      talk(alice, ActionRequest),
			busy:    func(Device) bool { return true },
			effects: []string{"resp ALICE denied busy_elsewhere re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "request/busy elsewhere allowed without one room per device",
			room:    newTestRoom(configured(func(c *Config) { c.OneRoomPerDevice = false })),
			in:      talk(alice, ActionRequest),
			busy:    func(Device) bool { return true },
			effects: []string{"floor", "resp ALICE granted re $r"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
		},
		{
			name:    "request/already holder answered with the current term",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      talk(alice, ActionRequest),
			effects: []string{"resp ALICE granted re $r"},
			log:     []string{"regrant"},
			holder:  &alice,
			check: func(t *testing.T, d Decision) {
				if resp := d.Effects[0].Response; resp.Term != 7 {
					t.Errorf("regrant term %d, want 7", resp.Term)
				}
			},
		},
		{
			name:    "request/idle floor granted",
			room:    newTestRoom(),
			in:      talk(alice, ActionRequest),
			effects: []string{"floor", "resp ALICE granted re $r"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
			check: func(t *testing.T, d Decision) {
				resp := d.Effects[1].Response
				if resp.Term != 8 || resp.ExpiresTS != t0.Add(30*time.Second).UnixMilli() {
					t.Errorf("response term %d expires_ts %d", resp.Term, resp.ExpiresTS)
				}
				h := d.Room.Holder
				want := Holder{Device: alice, Phase: PhaseGranted, GrantedAt: t0, LastActivity: t0, RequestEventID: "$r"}
				if *h != want {
					t.Errorf("holder %+v, want %+v", *h, want)
				}
				fs := effectOf(t, d, EffectFloorState).Floor
				if fs.Holder == nil || *fs.Holder != alice || fs.Term != 8 || fs.GrantedTS != t0.UnixMilli() {
					t.Errorf("floor state %+v", fs)
				}
			},
		},
		{
			name:    "request/preempt by higher power revokes the holder",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      preempting(boss),
			effects: []string{"floor", "resp ALICE revoked preempted re $req-ALICE", "resp BOSS granted re $r"},
			log:     []string{"revoke", "grant"},
			holder:  &boss,
			term:    8,
		},
		{
			name:    "request/preempt below preempt_power_level queues",
			room:    newTestRoom(holding(alice, PhaseTalking), configured(func(c *Config) { c.PreemptPowerLevel = 60 })),
			in:      preempting(carol),
			effects: []string{"resp CAROL queued floor_taken #1 re $r", "floor"},
			log:     []string{"queue"},
			holder:  &alice,
			queue:   []Device{carol},
		},
		{
			name:    "request/preempt needs strictly more power than the holder",
			room:    newTestRoom(with(func(r *Room) { r.Power.Users[bob.UserID] = 50 }), holding(carol, PhaseTalking)),
			in:      preempting(bob),
			effects: []string{"resp BOB queued floor_taken #1 re $r", "floor"},
			log:     []string{"queue"},
			holder:  &carol,
			queue:   []Device{bob},
		},
		{
			name:    "request/already queued answered with its position",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob, carol)),
			in:      talk(bob, ActionRequest),
			effects: []string{"resp BOB queued floor_taken #2 re $r"},
			log:     []string{"queue"},
			holder:  &alice,
			queue:   []Device{carol, bob},
		},
		{
			name:    "request/queue disabled denies floor_taken",
			room:    newTestRoom(holding(alice, PhaseTalking), configured(func(c *Config) { c.Queue = false })),
			in:      talk(bob, ActionRequest),
			effects: []string{"resp BOB denied floor_taken re $r"},
			log:     []string{"deny"},
			holder:  &alice,
		},
		{
			name:    "request/queue full denies queue_full",
			room:    newTestRoom(holding(alice, PhaseTalking), configured(func(c *Config) { c.MaxQueue = 1 }), queued(carol)),
			in:      talk(bob, ActionRequest),
			effects: []string{"resp BOB denied queue_full re $r"},
			log:     []string{"deny"},
			holder:  &alice,
			queue:   []Device{carol},
		},
		{
			name:    "request/busy floor queues",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      talk(bob, ActionRequest),
			at:      time.Second,
			effects: []string{"resp BOB queued floor_taken #1 re $r", "floor"},
			log:     []string{"queue"},
			holder:  &alice,
			queue:   []Device{bob},
			check: func(t *testing.T, d Decision) {
				want := QueueEntry{Device: bob, EnqueuedAt: t0.Add(time.Second), RequestEventID: "$r"}
				if d.Room.Queue[0] != want {
					t.Errorf("queue entry %+v, want %+v", d.Room.Queue[0], want)
				}
			},
		},
		{
			name:    "request/queue orders by power then arrival",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      talk(boss, ActionRequest),
			effects: []string{"resp BOSS queued floor_taken #1 re $r", "floor"},
			log:     []string{"queue"},
			holder:  &alice,
			queue:   []Device{boss, bob},
		},
		{
			name:    "release/holder releases",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      talk(alice, ActionRelease),
			at:      time.Second,
			effects: []string{"resp ALICE released re $r", "floor"},
			log:     []string{"release"},
			check:   wantGrace("$bc-ALICE", t0.Add(4*time.Second)),
		},
		{
			name:    "release/non-holder denied bad_request",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      talk(bob, ActionRelease),
			effects: []string{"resp BOB denied bad_request re $r"},
			log:     []string{"deny"},
			holder:  &alice,
			check:   wantError("does not hold the floor"),
		},
		{
			// alice released term 6, asked again and holds term 7 when
			// the late release arrives: it must not end her new turn.
			name:    "release/for an earlier term changes nothing",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      withTerm(talk(alice, ActionRelease), 6),
			effects: []string{"resp ALICE denied stale_term re $r"},
			log:     []string{"deny"},
			holder:  &alice,
			check:   wantError("term 6 has ended"),
		},
		{
			name:    "release/with the current term releases",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      withTerm(talk(alice, ActionRelease), 7),
			effects: []string{"resp ALICE released re $r", "floor"},
			log:     []string{"release"},
		},
		{
			name:    "release/with a term the floor has not reached denied bad_request",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      withTerm(talk(alice, ActionRelease), 9),
			effects: []string{"resp ALICE denied bad_request re $r"},
			log:     []string{"deny"},
			holder:  &alice,
		},
		{
			name:    "cancel/queued device leaves the queue",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      talk(bob, ActionCancel),
			effects: []string{"resp BOB cancelled re $r", "floor"},
			log:     []string{"cancel"},
			holder:  &alice,
		},
		{
			name:    "cancel/device not queued denied bad_request",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      talk(bob, ActionCancel),
			effects: []string{"resp BOB denied bad_request re $r"},
			log:     []string{"deny"},
			holder:  &alice,
			check:   wantError("not queued"),
		},
		{
			name:    "revoke/for an earlier term changes nothing",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      withTerm(revoking(carol, nil), 6),
			effects: []string{"resp CAROL denied stale_term re $r"},
			log:     []string{"deny"},
			holder:  &alice,
			queue:   []Device{bob},
		},
		{
			name:    "revoke/non-moderator denied insufficient_power",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      revoking(bob, nil),
			effects: []string{"resp BOB denied insufficient_power re $r"},
			log:     []string{"deny"},
			holder:  &alice,
		},
		{
			name: "revoke/no target revokes the holder",
			room: newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:   revoking(carol, nil),
			effects: []string{
				"floor",
				"resp ALICE revoked chair_revoke re $req-ALICE",
				"resp BOB granted re $q-BOB",
				"resp CAROL revoked chair_revoke re $r",
			},
			log:    []string{"revoke", "grant"},
			holder: &bob,
			term:   8,
			check:  wantGrace("$bc-ALICE", t0.Add(3*time.Second)),
		},
		{
			name:    "revoke/empty target on an idle floor denied bad_request",
			room:    newTestRoom(),
			in:      revoking(carol, &Device{}),
			effects: []string{"resp CAROL denied bad_request re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "revoke/queued target removed",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      revoking(carol, &bob),
			effects: []string{"resp BOB cancelled chair_revoke re $q-BOB", "resp CAROL revoked chair_revoke re $r", "floor"},
			log:     []string{"drop"},
			holder:  &alice,
		},
		{
			name:    "revoke/unknown target denied bad_request",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      revoking(carol, &mallory),
			effects: []string{"resp CAROL denied bad_request re $r"},
			log:     []string{"deny"},
			holder:  &alice,
		},
	}
}
