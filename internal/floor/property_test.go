package floor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestRandomSequencesKeepInvariants drives two rooms with random inputs
// from four devices (fixed seeds, so failures reproduce) and checks after
// every decision what must always hold.
func TestRandomSequencesKeepInvariants(t *testing.T) {
	tally := map[string]int{}
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { runRandomSequence(t, seed, 400, tally) })
	}
	// The sequences must reach the interesting paths, or the invariants
	// above prove little.
	for _, action := range []string{"grant", "queue", "deny", "revoke", "release", "drop", "cancel", "redact_chunk", "started", "deadline fired",
		"media_withdrawn", "ignore_media"} {
		if tally[action] == 0 {
			t.Errorf("no %q in any random sequence", action)
		}
	}
}

var cast = []Device{alice, bob, carol, boss}

func runRandomSequence(t *testing.T, seed uint64, steps int, tally map[string]int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rooms := []*Room{newTestRoom(), newTestRoom()}
	rooms[1].RoomID = "!other:example.org"
	allowed := []sfu{{}, {}}
	now := t0
	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		i := rng.IntN(len(rooms))
		r, other := rooms[i], rooms[1-i]
		env := Env{Now: now, LiveAvailable: true, BusyElsewhere: func(d Device) bool { return other.Holder != nil && other.Holder.Device == d }}
		in := randomInput(rng, r, now)
		late := rng.IntN(3) == 0
		if late {
			// An event decided late, as from a backlog: it arrived up to
			// 5 s ago, and its homeserver's clock is off by -3..+1 s.
			env.Received = now.Add(-time.Duration(rng.IntN(5000)) * time.Millisecond)
			env.Sent = env.Received.Add(time.Duration(rng.IntN(4000)-3000) * time.Millisecond)
		}
		termBefore := r.Term
		d := Decide(r, in, env)
		for _, l := range d.Log {
			tally[string(l.Action)]++
		}
		where := fmt.Sprintf("step %d, room %d, input %#v", step, i, in)
		checkInvariants(t, where, d, termBefore, r.Clock, other)
		allowed[i].apply(d.Effects)
		checkLiveFloor(t, where, r, allowed[i])
		if late {
			// The decision package ends every decision with a Tick at now.
			termBefore, where = r.Term, where+", then a Tick"
			d = Decide(r, Tick{}, Env{Now: now, BusyElsewhere: env.BusyElsewhere})
			for _, l := range d.Log {
				tally[string(l.Action)]++
			}
			checkInvariants(t, where, d, termBefore, now, other)
			allowed[i].apply(d.Effects)
			checkLiveFloor(t, where, r, allowed[i])
		}
		next := r.NextDeadline()
		if !next.IsZero() && !next.After(now) {
			t.Fatalf("%s: NextDeadline %v not after now %v", where, next, now)
		}
		if !next.IsZero() && rng.IntN(8) == 0 {
			now = checkDeadlineFiresExactly(t, r, next, env.BusyElsewhere, tally, allowed[i])
			checkLiveFloor(t, where+", then its deadline", r, allowed[i])
		}
	}
}

// checkDeadlineFiresExactly ticks just before and at the room's next
// deadline: nothing may fire before it, something must fire at it.
func checkDeadlineFiresExactly(t *testing.T, r *Room, next time.Time, busy func(Device) bool, tally map[string]int, allowed sfu) time.Time {
	t.Helper()
	before := Decide(r, Tick{}, Env{Now: next.Add(-time.Nanosecond), BusyElsewhere: busy})
	if len(before.Log) != 0 {
		t.Fatalf("a tick 1ns before the deadline %v fired %v", next, actions(before.Log))
	}
	at := Decide(r, Tick{}, Env{Now: next, BusyElsewhere: busy})
	allowed.apply(at.Effects)
	fired := slices.ContainsFunc(at.Log, func(l LogEntry) bool {
		return l.Action == "revoke" || l.Action == "release" || l.Action == "drop"
	})
	if !fired {
		t.Fatalf("a tick at the deadline %v fired nothing: %v", next, actions(at.Log))
	}
	tally["deadline fired"]++
	return next
}

func checkInvariants(t *testing.T, where string, d Decision, termBefore int64, now time.Time, other *Room) {
	t.Helper()
	r := d.Room
	grants := 0
	for _, l := range d.Log {
		if l.Action == "grant" {
			grants++
		}
	}
	if r.Term != termBefore+int64(grants) {
		t.Fatalf("%s: term %d -> %d with %d grants", where, termBefore, r.Term, grants)
	}
	limit := r.Config.MaxQueue
	if !r.Config.Queue {
		limit = 0
	}
	if len(r.Queue) > limit {
		t.Fatalf("%s: queue of %d exceeds %d", where, len(r.Queue), limit)
	}
	seen := map[Device]bool{}
	for _, e := range r.Queue {
		if seen[e.Device] || (r.Holder != nil && r.Holder.Device == e.Device) {
			t.Fatalf("%s: %v queued twice or queued while holding", where, e.Device)
		}
		seen[e.Device] = true
	}
	if h := r.Holder; h != nil {
		dd := &decider{r: r, now: now}
		if reason := dd.eligibility(h.Device); reason != "" {
			t.Fatalf("%s: holder %v is not eligible: %s", where, h.Device, reason)
		}
		if other.Holder != nil && other.Holder.Device == h.Device {
			t.Fatalf("%s: %v holds the floor in both rooms", where, h.Device)
		}
	}
	// The kept counts must equal a count of every permit.
	listeners, valid := 0, 0
	for _, p := range r.Permits {
		if r.Members[p.UserID] == "join" && !expired(p, now) {
			valid++
			if p.Receive {
				listeners++
			}
		}
	}
	if r.listeners(now) != listeners || r.ValidPermits(now) != valid {
		t.Fatalf("%s: kept counts %d listeners, %d valid permits; counted %d, %d", where, r.listeners(now), r.ValidPermits(now), listeners, valid)
	}
	floors := 0
	// The SFU permission changes go ahead of everything (live.go); the
	// floor state's place is counted among the rest.
	media := 0
	for media < len(d.Effects) && d.Effects[media].Kind == EffectMediaPermission {
		media++
	}
	for i, e := range d.Effects[media:] {
		switch e.Kind {
		case EffectMediaPermission:
			t.Fatalf("%s: a media permission change after other effects: %v", where, renderAll(d.Effects))
		case EffectFloorState:
			floors++
			// A grant's floor state (one that names a new holder) goes
			// first, every other one last (Decision.Effects).
			if want := len(d.Effects) - media - 1; r.Holder != nil && r.Term != termBefore {
				want = 0
				if i != want {
					t.Fatalf("%s: a grant's floor state at position %d, not first: %v", where, i, renderAll(d.Effects))
				}
			} else if i != want && i != 0 {
				t.Fatalf("%s: floor state at position %d, neither last nor (a first publication) first: %v", where, i, renderAll(d.Effects))
			}
		case EffectRedact:
			if !r.Managed {
				t.Fatalf("%s: redaction in an unmanaged room", where)
			}
		case EffectResponse:
			if e.Response.Device == nil || e.Response.InReplyTo == "" {
				t.Fatalf("%s: response without device or reference: %+v", where, e.Response)
			}
			if e.Response.Status == StatusGranted && (e.Response.Term < termBefore || e.Response.Term > r.Term) {
				t.Fatalf("%s: granted term %d outside [%d, %d]", where, e.Response.Term, termBefore, r.Term)
			}
		}
	}
	if floors > 1 || (r.Passive && len(d.Effects) > 0) {
		t.Fatalf("%s: %d floor states, passive %v, effects %v", where, floors, r.Passive, renderAll(d.Effects))
	}
}

func randomInput(rng *rand.Rand, r *Room, now time.Time) Input {
	dev := cast[rng.IntN(len(cast))]
	ev := fmt.Sprintf("$ev%d", rng.Uint32())
	holderBroadcast := ""
	if r.Holder != nil {
		holderBroadcast = r.Holder.BroadcastEventID
	}
	switch rng.IntN(20) {
	case 0, 1, 2, 3, 4:
		in := TalkRequest{EventID: ev, Sender: dev.UserID, DeviceID: dev.DeviceID, Preempt: rng.IntN(3) == 0}
		in.Action = []string{ActionRequest, ActionRequest, ActionRelease, ActionCancel, ActionRevoke, "bogus"}[rng.IntN(6)]
		if in.Action == ActionRevoke && rng.IntN(2) == 0 {
			in.Target = &cast[rng.IntN(len(cast))]
		}
		return in
	case 5, 6, 7, 8:
		in := BroadcastInfo{EventID: ev, Sender: dev.UserID, DeviceID: dev.DeviceID, StartedEventID: holderBroadcast,
			ChunkLength: time.Duration(rng.IntN(20)) * time.Second}
		in.State = []string{BroadcastStarted, BroadcastStarted, BroadcastPaused, BroadcastResumed, BroadcastStopped}[rng.IntN(5)]
		if in.State == BroadcastStarted {
			in.Term = []int64{0, 0, r.Term, rng.Int64N(r.Term + 2)}[rng.IntN(4)]
		}
		return in
	case 9, 10, 11:
		broadcast := holderBroadcast
		if rng.IntN(3) == 0 {
			broadcast = "$stray"
		}
		return Chunk{EventID: ev, Sender: dev.UserID, BroadcastEventID: broadcast}
	case 12, 13:
		in := PermitChange{EventID: ev, Sender: dev.UserID, StateKey: dev.PermitStateKey(), DeviceID: dev.DeviceID,
			Send: rng.IntN(4) > 0, Receive: rng.IntN(6) > 0, Empty: rng.IntN(6) == 0}
		if rng.IntN(3) == 0 {
			in.ExpiresAt = now.Add(time.Duration(rng.IntN(70)-10) * time.Second)
		}
		if rng.IntN(8) == 0 {
			in.Sender = cast[rng.IntN(len(cast))].UserID // maybe forged
		}
		return in
	case 14:
		return MemberChange{EventID: ev, UserID: dev.UserID, Membership: []string{"join", "join", "join", "leave", "ban", "invite"}[rng.IntN(6)]}
	case 15:
		levels := managedPower()
		levels.Users[dev.UserID] = rng.IntN(101)
		if rng.IntN(6) == 0 {
			levels.Users[controller] = 40 // the room becomes unmanaged
		}
		for _, t := range BroadcastInfoTypes {
			levels.Events[t] = []int{0, 0, 60}[rng.IntN(3)]
		}
		return PowerChange{EventID: ev, Levels: levels}
	case 16:
		return ConfigChange{EventID: ev, Values: map[string]any{
			"max_queue": float64(rng.IntN(5)), "queue": rng.IntN(4) > 0, "max_talk_ms": float64(1000 + rng.IntN(40000)),
			"mode": []string{ModeBroadcast, ModeLive, ModeLive}[rng.IntN(3)],
		}}
	case 18, 19:
		if r.Holder != nil && rng.IntN(2) == 0 {
			dev = r.Holder.Device
		}
		kinds := []MediaEventKind{MediaJoined, MediaPublished, MediaPublished, MediaUnpublished, MediaLeft}
		return MediaEvent{Kind: kinds[rng.IntN(len(kinds))], Device: dev, ID: ev}
	case 17:
		in := AdminRelease{By: "@ops:example.org", Term: r.Term}
		if r.Holder != nil {
			in.Holder = r.Holder.Device
		}
		return in
	}
	return Tick{}
}

// sfu is what the SFU would allow after applying every permission change
// the decisions asked for, per room.
type sfu map[Device]bool

func (s sfu) apply(effects []Effect) {
	for _, e := range effects {
		if e.Kind == EffectMediaPermission {
			if e.Allow {
				s[*e.Device] = true
			} else {
				delete(s, *e.Device)
			}
		}
	}
}

// checkLiveFloor: in a live room nobody but the holder may publish, ever;
// and a managed live room's holder may (its grant asked for it).
func checkLiveFloor(t *testing.T, where string, r *Room, allowed sfu) {
	t.Helper()
	if r.Passive {
		return
	}
	for dev := range allowed {
		if r.Holder == nil || r.Holder.Device != dev {
			t.Fatalf("%s: %v may publish on the SFU but does not hold the floor (holder %v, mode %q)", where, dev, r.Holder, r.Config.Mode)
		}
		if !r.Config.Live() {
			t.Fatalf("%s: %v may publish in a room that is not live", where, dev)
		}
	}
	if r.Config.Live() && r.Holder != nil && r.Managed && !allowed[r.Holder.Device] {
		t.Fatalf("%s: the holder %v of a live room may not publish", where, r.Holder.Device)
	}
}
