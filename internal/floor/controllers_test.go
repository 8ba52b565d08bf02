package floor

import (
	"fmt"
	"testing"
	"time"
)

func controllerRules() []rule {
	unpublished := with(func(r *Room) { r.Published, r.FirstPublished, r.FirstPublishedID = false, time.Time{}, "" })
	echoPending := with(func(r *Room) { r.FirstPublished, r.FirstPublishedID = time.Time{}, "" })
	rivalAt := func(at time.Duration) spec {
		return with(func(r *Room) { c := claimOf(floorBy(otherController, at)); r.Rival = &c })
	}
	overwritten := func(start time.Time, count int) spec {
		return with(func(r *Room) { r.Overwrites = RateWindow{Start: start, Count: count} })
	}
	return []rule{
		{
			name:  "floor seen/another controller first makes us passive",
			room:  newTestRoom(unpublished),
			in:    floorBy(otherController, 0),
			log:   []string{"passive"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, false) },
		},
		{
			name: "floor seen/our own echo marks us published and is our claim",
			room: newTestRoom(unpublished),
			in:   floorBy(controller, 0),
			check: func(t *testing.T, d Decision) {
				wantFlags(t, d.Room, false, true)
				if d.Room.FirstPublishedID != floorBy(controller, 0).EventID {
					t.Errorf("claim %q", d.Room.FirstPublishedID)
				}
			},
		},
		{
			name:    "floor seen/a floor state after our first one is overwritten",
			room:    newTestRoom(),
			in:      floorBy(otherController, 0),
			effects: []string{"floor"},
			log:     []string{"foreign_floor_state"},
			check:   func(t *testing.T, d Decision) { wantFlags(t, d.Room, false, true) },
		},
		{
			name:  "floor seen/a controller whose first floor state came before ours takes the room",
			room:  newTestRoom(holding(alice, PhaseTalking)),
			in:    floorBy(otherController, -2*time.Hour),
			log:   []string{"passive"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, true) },
		},
		{
			// Without our own timestamp we cannot know who was first; a
			// guess on both sides kept both controllers active.
			name: "floor seen/a floor state seen before our own echo waits for it",
			room: newTestRoom(echoPending),
			in:   floorBy(otherController, 0),
			check: func(t *testing.T, d Decision) {
				wantFlags(t, d.Room, false, true)
				if d.Room.Rival == nil || d.Room.Rival.EventID != floorBy(otherController, 0).EventID {
					t.Errorf("rival %+v not remembered", d.Room.Rival)
				}
			},
		},
		{
			name:    "floor seen/our echo before the rival's first floor state keeps the room and answers it",
			room:    newTestRoom(echoPending, rivalAt(0)),
			in:      floorBy(controller, -time.Second),
			effects: []string{"floor"},
			log:     []string{"foreign_floor_state"},
			check:   func(t *testing.T, d Decision) { wantFlags(t, d.Room, false, true) },
		},
		{
			name:  "floor seen/our echo after the rival's first floor state yields",
			room:  newTestRoom(echoPending, rivalAt(-2*time.Second), holding(alice, PhaseTalking)),
			in:    floorBy(controller, -time.Second),
			log:   []string{"passive"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, true) },
		},
		{
			name:  "floor seen/a later floor state from the owner keeps us passive and silent",
			room:  newTestRoom(passiveTo(otherController, -2*time.Hour)),
			in:    floorBy(otherController, 0),
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, true) },
		},
		{
			name: "floor seen/the loop breaker stops answering overwrites",
			room: newTestRoom(overwritten(t0.Add(-time.Second), maxOverwriteAnswers)),
			in:   floorBy(otherController, 0),
			log:  []string{"overwrite_limit"},
		},
		{
			name: "floor seen/the loop breaker logs once per window",
			room: newTestRoom(overwritten(t0.Add(-time.Second), maxOverwriteAnswers+1)),
			in:   floorBy(otherController, 0),
		},
		{
			name:    "floor seen/the loop breaker's window ends",
			room:    newTestRoom(overwritten(t0.Add(-overwriteWindow), 10)),
			in:      floorBy(otherController, 0),
			effects: []string{"floor"},
			log:     []string{"foreign_floor_state"},
		},
	}
}

// Two Walkies that published before seeing each other's floor state agree
// on one owner from the timestamps both see, and the other yields for good.
func TestTwoControllersSettleOnTheFirstPublisher(t *testing.T) {
	base := time.Unix(1700000000, 0)
	managed := func(controller string) *Room {
		r := NewRoom("!r", controller, Config{})
		r.Power = PowerLevels{Users: map[string]int{"@a": 100, "@b": 100}, StateDefault: 50, Redact: 50,
			Events: map[string]int{TypeFloor: 100, TypePermit: 0, TypeBroadcastInfo: 0, TypeBroadcastInfoMSC3888: 0, TypeBroadcastInfoElement: 0}}
		r.Managed, r.Published = true, true
		return r
	}
	pA := FloorStateSeen{EventID: "$pa", Sender: "@a", Timestamp: base}
	pB := FloorStateSeen{EventID: "$pb", Sender: "@b", Timestamp: base.Add(time.Second)}
	env := Env{Now: base.Add(2 * time.Second)}

	a := Decide(managed("@a"), pA, env).Room // its own echo
	dA := Decide(a, pB, env)
	if dA.Room.Passive || !hasFloorState(dA) {
		t.Fatalf("A published first: it keeps the room and republishes (passive=%v)", dA.Room.Passive)
	}
	b := Decide(managed("@b"), pB, env).Room
	dB := Decide(b, pA, env)
	if !dB.Room.Passive || len(dB.Effects) != 0 {
		t.Fatalf("B published later: it yields silently (passive=%v, effects=%v)", dB.Room.Passive, dB.Effects)
	}
	republished := FloorStateSeen{EventID: "$pa2", Sender: "@a", Timestamp: base.Add(3 * time.Second)}
	if d := Decide(dB.Room, republished, env); !d.Room.Passive || len(d.Effects) != 0 {
		t.Fatal("a passive controller stays passive and silent")
	}

	// A human admin overwriting the floor state does not make Walkie yield.
	human := FloorStateSeen{EventID: "$h", Sender: "@admin", Timestamp: base.Add(time.Minute)}
	if d := Decide(Decide(managed("@a"), pA, env).Room, human, env); d.Room.Passive || !hasFloorState(d) {
		t.Fatal("a later floor state from someone else is overwritten, not obeyed")
	}
}

// Two Walkies invited into a room at the same moment both publish before
// either sees the other's floor state. Whatever order each then sees the
// two floor states in (the other's before its own echo is the worst),
// exactly one stays active, and the floor states stop.
func TestControllersInvitedAtOnceSettleOnOne(t *testing.T) {
	const a, b = "@walkie-a:example.org", "@walkie-b:example.org"
	for _, ownFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("own echo first %v", ownFirst), func(t *testing.T) {
			levels := managedPower()
			levels.Users[a], levels.Users[b] = 100, 100
			rooms := map[string]*Room{a: NewRoom(testRoomID, a, testConfig()), b: NewRoom(testRoomID, b, testConfig())}
			clock, published := t0, 0
			var inFlight []FloorStateSeen
			decide := func(c string, in Input) {
				d := Decide(rooms[c], in, Env{Now: clock})
				rooms[c] = d.Room
				for _, e := range d.Effects {
					if e.Kind == EffectFloorState {
						clock, published = clock.Add(time.Second), published+1
						inFlight = append(inFlight, FloorStateSeen{EventID: fmt.Sprintf("$floor%d", published), Sender: c, Timestamp: clock})
					}
				}
			}
			// Both load the room's state, which shows no floor state yet.
			decide(a, Snapshot{Power: &levels})
			decide(b, Snapshot{Power: &levels})
			for round := 0; len(inFlight) > 0; round++ {
				if round == 10 {
					t.Fatalf("still exchanging floor states after %d rounds (%d published)", round, published)
				}
				batch := inFlight
				inFlight = nil
				for _, c := range []string{a, b} {
					for _, own := range []bool{ownFirst, !ownFirst} {
						for _, ev := range batch {
							if (ev.Sender == c) == own {
								decide(c, ev)
							}
						}
					}
				}
			}
			// a's first floor state has the earlier timestamp: a owns the room.
			if rooms[a].Passive || !rooms[b].Passive {
				t.Fatalf("passive: a %v, b %v; want only b", rooms[a].Passive, rooms[b].Passive)
			}
			if published > 3 {
				t.Errorf("%d floor states published, want at most 3", published)
			}
		})
	}
}

func hasFloorState(d Decision) bool {
	for _, e := range d.Effects {
		if e.Kind == EffectFloorState {
			return true
		}
	}
	return false
}
