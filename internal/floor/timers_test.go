package floor

import (
	"testing"
	"time"
)

func wantNextDeadline(want time.Time) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if got := d.Room.NextDeadline(); !got.Equal(want) {
			t.Errorf("NextDeadline %v, want %v", got, want)
		}
	}
}

func timerRules() []rule {
	return []rule{
		{
			name:    "timer/start timeout revokes no_media",
			room:    newTestRoom(holding(alice, PhaseGranted)),
			in:      Tick{},
			at:      5 * time.Second,
			effects: []string{"resp ALICE revoked no_media re $req-ALICE", "floor"},
			log:     []string{"revoke"},
		},
		{
			name:    "timer/inactivity revokes inactive",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      Tick{},
			at:      10 * time.Second,
			effects: []string{"resp ALICE revoked inactive re $req-ALICE", "floor"},
			log:     []string{"revoke"},
			check:   wantGrace("$bc-ALICE", t0.Add(13*time.Second)),
		},
		{
			name:   "timer/inactivity stretches to 1.5 chunk lengths",
			room:   newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) { r.Holder.ChunkLength = 10 * time.Second })),
			in:     Tick{},
			at:     10 * time.Second,
			holder: &alice,
			check:  wantNextDeadline(t0.Add(15 * time.Second)),
		},
		{
			// An hour-long chunk_length would hold a silent floor for 1.5 h.
			name: "timer/a declared chunk length counts up to 60 s",
			room: newTestRoom(holding(alice, PhaseTalking), configured(func(c *Config) { c.MaxTalk = time.Hour }),
				with(func(r *Room) { r.Holder.ChunkLength = time.Hour })),
			in:     Tick{},
			at:     time.Second,
			holder: &alice,
			check:  wantNextDeadline(t0.Add(90 * time.Second)),
		},
		{
			name:    "timer/max talk revokes max_talk_time",
			room:    newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) { r.Holder.LastActivity = t0.Add(25 * time.Second) })),
			in:      Tick{},
			at:      30 * time.Second,
			effects: []string{"resp ALICE revoked max_talk_time re $req-ALICE", "floor"},
			log:     []string{"revoke"},
		},
		{
			name:    "timer/pause grace releases",
			room:    newTestRoom(holding(alice, PhasePaused)),
			in:      Tick{},
			at:      3 * time.Second,
			effects: []string{"resp ALICE released pause_timeout re $req-ALICE", "floor"},
			log:     []string{"release"},
		},
		{
			name:    "timer/holder's permit expiry revokes permit_expired",
			room:    newTestRoom(permit(alice, true, true, t0.Add(2*time.Second)), holding(alice, PhaseTalking)),
			in:      Tick{},
			at:      2 * time.Second,
			effects: []string{"resp ALICE revoked permit_expired re $req-ALICE", "floor"},
			log:     []string{"revoke"},
		},
		{
			name:    "timer/queue timeout cancels",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob), with(func(r *Room) { r.Queue[0].EnqueuedAt = t0.Add(-time.Minute) })),
			in:      Tick{},
			effects: []string{"resp BOB cancelled queue_timeout re $q-BOB", "floor"},
			log:     []string{"drop"},
			holder:  &alice,
		},
		{
			name:    "timer/queued permit expiry drops",
			room:    newTestRoom(permit(bob, true, true, t0.Add(time.Second)), holding(alice, PhaseTalking), queued(bob)),
			in:      Tick{},
			at:      time.Second,
			effects: []string{"resp BOB denied permit_expired re $q-BOB", "floor"},
			log:     []string{"drop"},
			holder:  &alice,
		},
		{
			name:    "timer/revoke hands the floor on in the same decision",
			room:    newTestRoom(holding(alice, PhaseGranted), queued(bob)),
			in:      Tick{},
			at:      5 * time.Second,
			effects: []string{"floor", "resp ALICE revoked no_media re $req-ALICE", "resp BOB granted re $q-BOB"},
			log:     []string{"revoke", "grant"},
			holder:  &bob,
			term:    8,
			check:   wantNextDeadline(t0.Add(10 * time.Second)), // bob's start_timeout
		},
		{
			name:    "timer/any input catches up with due deadlines first",
			room:    newTestRoom(holding(alice, PhaseGranted)),
			in:      talk(bob, ActionRequest),
			at:      5 * time.Second,
			effects: []string{"floor", "resp ALICE revoked no_media re $req-ALICE", "resp BOB granted re $r"},
			log:     []string{"revoke", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name:    "timer/deadline moved into the past fires in the same decision",
			room:    newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) { r.Holder.LastActivity = t0.Add(20 * time.Second) })),
			in:      ConfigChange{EventID: "$cfg", Values: map[string]any{"max_talk_ms": 20000.0}},
			at:      25 * time.Second,
			effects: []string{"resp ALICE revoked max_talk_time re $req-ALICE", "floor"},
			log:     []string{"config", "revoke"},
		},
		{
			name: "timer/ended grace and rate windows pruned",
			room: newTestRoom(with(func(r *Room) {
				r.Revoked = []RevokedBroadcast{{EventID: "$old", GraceUntil: t0.Add(time.Second)}}
				r.Rate[alice.PermitStateKey()] = RateWindow{Start: t0.Add(-2 * time.Minute), Count: 3}
			})),
			in: Tick{},
			at: time.Second,
			check: func(t *testing.T, d Decision) {
				if len(d.Room.Revoked) != 0 || len(d.Room.Rate) != 0 {
					t.Errorf("not pruned: revoked %v rate %v", d.Room.Revoked, d.Room.Rate)
				}
			},
		},
	}
}

// TestNextDeadline pins which timer is the earliest in each phase.
func TestNextDeadline(t *testing.T) {
	cases := []struct {
		name string
		room *Room
		want time.Time
	}{
		{"idle room has none", newTestRoom(), time.Time{}},
		{"granted: start timeout", newTestRoom(holding(alice, PhaseGranted)), t0.Add(5 * time.Second)},
		{"talking: inactivity", newTestRoom(holding(alice, PhaseTalking)), t0.Add(10 * time.Second)},
		{"paused: pause grace", newTestRoom(holding(alice, PhasePaused)), t0.Add(3 * time.Second)},
		{"talking near the end: max talk", newTestRoom(holding(alice, PhaseTalking),
			with(func(r *Room) { r.Holder.LastActivity = t0.Add(25 * time.Second) })), t0.Add(30 * time.Second)},
		{"holder permit expiring first", newTestRoom(permit(alice, true, true, t0.Add(time.Second)), holding(alice, PhaseTalking)), t0.Add(time.Second)},
		{"queue timeout", newTestRoom(queued(bob)), t0.Add(59 * time.Second)},
		{"queued permit expiring", newTestRoom(permit(bob, true, true, t0.Add(2*time.Second)), queued(bob)), t0.Add(2 * time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.room.NextDeadline(); !got.Equal(tc.want) {
				t.Errorf("NextDeadline %v, want %v", got, tc.want)
			}
		})
	}
}
