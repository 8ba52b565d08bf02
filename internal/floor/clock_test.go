package floor

import (
	"testing"
	"time"
)

// clockRules: an input counts from its activity time (Room.activityTime),
// and the deadlines before it fire in event time order, so a decision
// made late (a backlog, a restart) ends no turn that was kept alive in
// time.
func clockRules() []rule {
	talking := func() *Room { return newTestRoom(holding(alice, PhaseTalking)) }
	lastActivity := func(want time.Duration) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if d.Room.Holder == nil {
				t.Fatal("the holder lost the floor")
			}
			if got := d.Room.Holder.LastActivity; !got.Equal(t0.Add(want)) {
				t.Errorf("last activity %v, want t0+%v", got.Sub(t0), want)
			}
		}
	}
	return []rule{
		{
			// inactivity_timeout (10 s) is overdue when the decision is
			// made, but the chunk was sent and received in time.
			name: "clock/a chunk sent in time keeps the turn though decided late",
			room: talking(), in: chunk(alice, "$bc-ALICE"),
			at: 15 * time.Second, sent: 8 * time.Second, received: 9 * time.Second,
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				lastActivity(8*time.Second)(t, d)
				wantNextDeadline(t0.Add(18*time.Second))(t, d)
				if !d.Room.Clock.Equal(t0.Add(8 * time.Second)) {
					t.Errorf("room clock %v, want t0+8s", d.Room.Clock.Sub(t0))
				}
			},
		},
		{
			// The deadline between the last decision and the chunk fires
			// first, at the chunk's time: the chunk is a late one of a
			// revoked broadcast, inside revoke_grace.
			name: "clock/a deadline before the event's time fires first",
			room: talking(), in: chunk(alice, "$bc-ALICE"),
			at: 15 * time.Second, sent: 11 * time.Second, received: 12 * time.Second,
			effects: []string{"resp ALICE revoked inactive re $req-ALICE", "floor"},
			log:     []string{"revoke"},
			check:   wantGrace("$bc-ALICE", t0.Add(14*time.Second)),
		},
		{
			name: "clock/a timestamp after the arrival counts from the arrival",
			room: talking(), in: chunk(alice, "$bc-ALICE"),
			at: 15 * time.Second, sent: time.Hour, received: 9 * time.Second,
			holder: &alice, check: lastActivity(9 * time.Second),
		},
		{
			name: "clock/a timestamp before the room's last decision counts from that decision",
			room: newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) { r.Clock = t0.Add(5 * time.Second) })),
			in:   chunk(alice, "$bc-ALICE"),
			at:   7 * time.Second, sent: time.Second, received: 6 * time.Second,
			holder: &alice, check: lastActivity(5 * time.Second),
		},
		{
			name: "clock/an event without a timestamp counts from its arrival",
			room: talking(), in: chunk(alice, "$bc-ALICE"),
			at: 15 * time.Second, received: 9 * time.Second,
			holder: &alice, check: lastActivity(9 * time.Second),
		},
		{
			// The device hears of its grant only now: its start_timeout
			// and max_talk run from the decision, not from the request.
			name: "clock/a late request is granted at decision time",
			room: newTestRoom(), in: talk(bob, ActionRequest),
			at: 20 * time.Second, sent: time.Second, received: 2 * time.Second,
			effects: []string{"floor", "resp BOB granted re $r"},
			log:     []string{"grant"},
			holder:  &bob, term: 8,
			check: wantNextDeadline(t0.Add(25 * time.Second)),
		},
	}
}

// TestClockNeverGoesBack: a Tick at a database clock that went back
// decides at the room's clock.
func TestClockNeverGoesBack(t *testing.T) {
	r := newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) { r.Clock = t0.Add(12 * time.Second) }))
	d := Decide(r, Tick{}, Env{Now: t0.Add(time.Second)})
	if d.Room.Holder != nil || !d.Room.Clock.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("holder %v, clock t0+%v: the inactivity deadline (t0+10s) is behind the room's clock", d.Room.Holder, d.Room.Clock.Sub(t0))
	}
}
