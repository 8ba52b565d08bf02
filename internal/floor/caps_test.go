package floor

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// alice2 is another device of alice's, with a permit when a row gives it one.
var alice2 = Device{UserID: alice.UserID, DeviceID: "ALICE2"}

// capRules: what one member may take of a room. Permits are capped per
// user and per room, and a user's devices share one rate window and one
// place in the queue.
func capRules() []rule {
	permitStored := func(dev Device, want bool) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if _, ok := d.Room.Permits[dev.PermitStateKey()]; ok != want {
				t.Errorf("%s's permit stored: %v, want %v", dev.DeviceID, ok, want)
			}
		}
	}
	return []rule{
		{
			name:  "cap/a permit beyond max_permits_per_user is refused",
			room:  newTestRoom(configured(func(c *Config) { c.MaxPermitsPerUser = 1 })),
			in:    permitChange(alice2, true, true),
			log:   []string{"permit_limit"},
			check: permitStored(alice2, false),
		},
		{
			name:  "cap/a user at the cap may still replace a permit",
			room:  newTestRoom(configured(func(c *Config) { c.MaxPermitsPerUser = 1 })),
			in:    permitChange(alice, false, true),
			log:   []string{"permit"},
			check: permitStored(alice, true),
		},
		{
			name:  "cap/a permit beyond max_permits_per_room is refused",
			room:  newTestRoom(configured(func(c *Config) { c.MaxPermitsPerRoom = 4 })),
			in:    permitChange(mallory, true, true),
			log:   []string{"permit_limit"},
			check: permitStored(mallory, false),
		},
		{
			name:  "cap/without a configured cap the default applies",
			room:  newTestRoom(with(fillPermits(alice, DefaultMaxPermitsPerUser-1))),
			in:    permitChange(alice2, true, true),
			log:   []string{"permit_limit"},
			check: permitStored(alice2, false),
		},
		{
			name: "cap/a user's devices share one rate window",
			room: newTestRoom(permit(alice2, true, true, time.Time{}), with(func(r *Room) {
				r.Rate[alice.UserID] = RateWindow{Start: t0.Add(-time.Second), Count: 5}
			})),
			in:      talk(alice2, ActionRequest),
			effects: []string{"resp ALICE2 denied rate_limited re $r"},
			log:     []string{"deny"},
		},
		{
			name:    "cap/a user's second device gets no second place in the queue",
			room:    newTestRoom(permit(alice2, true, true, time.Time{}), holding(bob, PhaseTalking), queued(alice)),
			in:      talk(alice2, ActionRequest),
			effects: []string{"resp ALICE2 denied queue_full re $r"},
			log:     []string{"deny"},
			holder:  &bob,
			queue:   []Device{alice},
			check:   wantError("already waits on device ALICE"),
		},
	}
}

// fillPermits gives dev's user n more permits under invented device IDs.
func fillPermits(dev Device, n int) func(*Room) {
	return func(r *Room) {
		for i := range n {
			extra := Device{UserID: dev.UserID, DeviceID: fmt.Sprintf("INVENTED%d", i)}
			r.Permits[extra.PermitStateKey()] = Permit{Device: extra, Send: true, Receive: true}
		}
	}
}

// The listener count in the floor state is kept, not counted per decision:
// a room read back from its stored JSON answers from the stored count.
func TestListenerCountIsKeptWithTheRoom(t *testing.T) {
	r := newTestRoom(holding(alice, PhaseTalking), with(fillPermits(mallory, 10)))
	d := Decide(r, permitChange(bob, true, false), Env{Now: t0}) // bob stops listening
	if got := d.Room.FloorState(t0).Listeners; got != 3+10 {
		t.Fatalf("listeners %d, want 13", got)
	}
	stored, err := json.Marshal(d.Room)
	if err != nil {
		t.Fatal(err)
	}
	var loaded Room
	if err := json.Unmarshal(stored, &loaded); err != nil {
		t.Fatal(err)
	}
	if loaded.Audience == nil || loaded.Audience.Listeners.N != 13 || loaded.ValidPermits(t0) != 14 {
		t.Fatalf("stored counts %+v, want 13 listeners of 14 valid permits", loaded.Audience)
	}
}

// Expired permits leave the counts when their time comes, without a change
// to the permits.
func TestListenerCountFollowsExpiry(t *testing.T) {
	r := newTestRoom(permit(bob, true, true, t0.Add(time.Second)), permit(carol, false, true, t0.Add(2*time.Second)))
	for _, c := range []struct {
		at              time.Duration
		listeners, perm int
	}{{0, 4, 4}, {time.Second, 3, 3}, {2 * time.Second, 2, 2}} {
		if got, valid := r.listeners(t0.Add(c.at)), r.ValidPermits(t0.Add(c.at)); got != c.listeners || valid != c.perm {
			t.Errorf("at t0+%v: %d listeners, %d valid permits; want %d, %d", c.at, got, valid, c.listeners, c.perm)
		}
	}
}
