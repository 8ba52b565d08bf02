package floor

import (
	"slices"
	"testing"
	"time"
)

// rule is one row of the rule table: a room, one input at t0+at, and what
// must come out. Effects and log actions are compared exactly and in order
// (see render), so every row also pins the order of Decision.Effects.
type rule struct {
	name string
	room *Room
	in   Input
	at   time.Duration
	// sent and received, when set, are the input's origin_server_ts and
	// arrival (Env.Sent, Env.Received), like at relative to t0.
	sent, received time.Duration
	busy           func(Device) bool
	manage         bool // Env.ManagePowerLevels (config floor.manage_power_levels)
	sfu            bool // Env.LiveAvailable (config livekit)
	effects        []string
	log            []string
	holder         *Device // the holder afterwards; nil: the floor is idle
	term           int64   // the term afterwards; 0 means unchanged
	queue          []Device
	check          func(t *testing.T, d Decision)
}

func TestRules(t *testing.T) {
	var all []rule
	for _, group := range [][]rule{permitRules(), requestRules(), grantRules(), broadcastRules(),
		chunkRules(), timerRules(), clockRules(), roomRules(), controllerRules(), snapshotRules(), creatorRules(), effectOrderRules(), capRules(), redactionRules(), setupRules(), liveRules(), channelRules(), channelLaterRules()} {
		all = append(all, group...)
	}
	seen := map[string]bool{}
	for _, tc := range all {
		if seen[tc.name] {
			t.Fatalf("duplicate rule name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) { runRule(t, tc) })
	}
}

func runRule(t *testing.T, tc rule) {
	termBefore := tc.room.Term
	env := Env{Now: t0.Add(tc.at), BusyElsewhere: tc.busy, ManagePowerLevels: tc.manage, LiveAvailable: tc.sfu}
	if tc.sent != 0 {
		env.Sent = t0.Add(tc.sent)
	}
	if tc.received != 0 {
		env.Received = t0.Add(tc.received)
	}
	d := Decide(tc.room, tc.in, env)
	if d.Room != tc.room {
		t.Fatalf("Decision.Room is not the room passed in")
	}
	if got := renderAll(d.Effects); !slices.Equal(got, nonNil(tc.effects)) {
		t.Errorf("effects:\n got %q\nwant %q", got, nonNil(tc.effects))
	}
	if got := actions(d.Log); !slices.Equal(got, nonNil(tc.log)) {
		t.Errorf("log actions: got %q, want %q", got, nonNil(tc.log))
	}
	var holder *Device
	if d.Room.Holder != nil {
		holder = &d.Room.Holder.Device
	}
	if (holder == nil) != (tc.holder == nil) || (holder != nil && *holder != *tc.holder) {
		t.Errorf("holder: got %v, want %v", holder, tc.holder)
	}
	wantTerm := tc.term
	if wantTerm == 0 {
		wantTerm = termBefore
	}
	if d.Room.Term != wantTerm {
		t.Errorf("term: got %d, want %d", d.Room.Term, wantTerm)
	}
	if got := queueDevices(d.Room); !slices.Equal(got, nonNil(tc.queue)) {
		t.Errorf("queue: got %v, want %v", got, tc.queue)
	}
	if tc.check != nil {
		tc.check(t, d)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// wantGrace asserts that broadcast is tolerated until the given time and
// remembered for broadcastMemory after it.
func wantGrace(broadcast string, until time.Time) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		want := RevokedBroadcast{EventID: broadcast, GraceUntil: until, ForgetAt: until.Add(broadcastMemory)}
		if !slices.ContainsFunc(d.Room.Revoked, func(rb RevokedBroadcast) bool { rb.UserID = ""; return rb == want }) {
			t.Errorf("revoked broadcasts %v lack %v", d.Room.Revoked, want)
		}
	}
}

func permitChange(dev Device, send, receive bool) PermitChange {
	return PermitChange{EventID: "$p", Sender: dev.UserID, StateKey: dev.PermitStateKey(), DeviceID: dev.DeviceID, Send: send, Receive: receive}
}

func permitRules() []rule {
	expiredPermit := permitChange(alice, true, true)
	expiredPermit.ExpiresAt = t0.Add(-time.Second)
	mismatched := permitChange(alice, true, true)
	mismatched.DeviceID = "OTHER"
	malformed := permitChange(alice, true, true)
	malformed.Invalid = "expires_ts is not a number"
	emptyAlice := PermitChange{EventID: "$p", Sender: alice.UserID, StateKey: alice.PermitStateKey(), Empty: true}
	permitGone := func(dev Device) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			if p, ok := d.Room.Permits[dev.PermitStateKey()]; ok {
				t.Errorf("permit still stored: %+v", p)
			}
		}
	}
	return []rule{
		{
			name:    "permit/valid permit stored",
			room:    newTestRoom(),
			in:      permitChange(mallory, true, true),
			effects: []string{"floor"}, // listeners 4 -> 5
			log:     []string{"permit"},
			check: func(t *testing.T, d Decision) {
				if _, reason := d.Room.ValidPermit(mallory, t0); reason != "" {
					t.Errorf("mallory's new permit is not valid: %s", reason)
				}
			},
		},
		{
			name: "permit/forged sender ignored",
			room: newTestRoom(),
			in:   PermitChange{EventID: "$p", Sender: bob.UserID, StateKey: alice.PermitStateKey(), Empty: true},
			log:  []string{"forged_permit"},
			check: func(t *testing.T, d Decision) {
				if _, reason := d.Room.ValidPermit(alice, t0); reason != "" {
					t.Errorf("a forged revocation touched alice's permit: %s", reason)
				}
			},
		},
		{
			name:    "permit/device mismatch removes the state key's permit",
			room:    newTestRoom(),
			in:      mismatched,
			effects: []string{"floor"},
			log:     []string{"invalid_permit"},
			check:   permitGone(alice),
		},
		{
			name:    "permit/malformed content removes the state key's permit",
			room:    newTestRoom(),
			in:      malformed,
			effects: []string{"floor"},
			log:     []string{"invalid_permit"},
			check:   permitGone(alice),
		},
		{
			name: "permit/unparseable state key logged",
			room: newTestRoom(),
			in:   PermitChange{EventID: "$p", Sender: alice.UserID, StateKey: alice.UserID, DeviceID: "ALICE", Send: true, Receive: true},
			log:  []string{"invalid_permit"},
		},
		{
			name:    "permit/empty content revokes",
			room:    newTestRoom(),
			in:      emptyAlice,
			effects: []string{"floor"},
			log:     []string{"permit_revoked"},
			check:   permitGone(alice),
		},
		{
			name:    "permit/holder losing its permit is revoked",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      emptyAlice,
			effects: []string{"resp ALICE revoked permit_revoked re $req-ALICE", "floor"},
			log:     []string{"permit_revoked", "revoke"},
			check:   wantGrace("$bc-ALICE", t0.Add(3*time.Second)),
		},
		{
			name:    "permit/holder switching to listen-only is revoked",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      permitChange(alice, false, true),
			effects: []string{"resp ALICE revoked listen_only re $req-ALICE", "floor"},
			log:     []string{"permit", "revoke"},
		},
		{
			name:    "permit/holder's permit arriving expired is revoked",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      expiredPermit,
			effects: []string{"resp ALICE revoked permit_expired re $req-ALICE", "floor"},
			log:     []string{"permit", "revoke"},
		},
		{
			name:    "permit/queued device whose permit lapsed is dropped",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      PermitChange{EventID: "$p", Sender: bob.UserID, StateKey: bob.PermitStateKey(), Empty: true},
			effects: []string{"resp BOB denied no_permit re $q-BOB", "floor"},
			log:     []string{"permit_revoked", "drop"},
			holder:  &alice,
		},
	}
}

func grantRules() []rule {
	return []rule{
		{
			name: "grant/next eligible queue entry gets the freed floor",
			// mallory was queued without a permit (state from elsewhere):
			// she is skipped with the reason, bob gets the floor.
			room: newTestRoom(holding(alice, PhaseTalking), queued(mallory, bob)),
			in:   TalkRequest{EventID: "$rel", Sender: alice.UserID, Action: ActionRelease, DeviceID: "ALICE"},
			effects: []string{
				"floor",
				"resp ALICE released re $rel",
				"resp MALLORY denied no_permit re $q-MALLORY",
				"resp BOB granted re $q-BOB",
			},
			log:    []string{"release", "drop", "grant"},
			holder: &bob,
			term:   8,
			check: func(t *testing.T, d Decision) {
				h := d.Room.Holder
				if h.Phase != PhaseGranted || !h.GrantedAt.Equal(t0) || h.RequestEventID != "$q-BOB" {
					t.Errorf("holder %+v", h)
				}
				resp := d.Effects[3].Response
				if resp.Term != 8 || resp.ExpiresTS != t0.Add(30*time.Second).UnixMilli() {
					t.Errorf("grant response term %d expires %d", resp.Term, resp.ExpiresTS)
				}
			},
		},
		{
			name:    "grant/busy-elsewhere queue entry skipped",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob, carol)),
			in:      TalkRequest{EventID: "$rel", Sender: alice.UserID, Action: ActionRelease, DeviceID: "ALICE"},
			busy:    func(d Device) bool { return d == carol },
			effects: []string{"floor", "resp ALICE released re $rel", "resp CAROL denied busy_elsewhere re $q-CAROL", "resp BOB granted re $q-BOB"},
			log:     []string{"release", "drop", "grant"},
			holder:  &bob,
			term:    8,
		},
	}
}
