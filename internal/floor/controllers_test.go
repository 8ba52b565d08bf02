package floor

import (
	"testing"
	"time"
)

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

func hasFloorState(d Decision) bool {
	for _, e := range d.Effects {
		if e.Kind == EffectFloorState {
			return true
		}
	}
	return false
}
