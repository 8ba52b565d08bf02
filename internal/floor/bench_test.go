package floor

import (
	"fmt"
	"testing"
)

// crowdedRoom is a test room with 100 more joined devices holding permits,
// so per-decision work over permits (listeners) shows up.
func crowdedRoom(specs ...spec) *Room {
	r := newTestRoom(specs...)
	for i := range 100 {
		dev := Device{UserID: fmt.Sprintf("@listener%d:example.org", i), DeviceID: "PHONE"}
		r.Members[dev.UserID] = "join"
		r.Permits[dev.PermitStateKey()] = Permit{Device: dev, Send: true, Receive: true}
	}
	return r
}

func BenchmarkDecideRequest(b *testing.B) {
	r := crowdedRoom(configured(func(c *Config) { c.RateLimit = 0 }))
	in, env := talk(alice, ActionRequest), Env{Now: t0}
	if d := Decide(r, in, env); r.Holder == nil || len(d.Effects) != 2 {
		b.Fatalf("request not granted: %v", renderAll(d.Effects))
	}
	for b.Loop() {
		r.Holder = nil // each iteration grants an idle floor
		Decide(r, in, env)
	}
}

func BenchmarkDecideChunk(b *testing.B) {
	r := crowdedRoom(holding(alice, PhaseTalking))
	in, env := chunk(alice, "$bc-ALICE"), Env{Now: t0}
	if d := Decide(r, in, env); len(d.Effects) != 0 || r.Holder == nil {
		b.Fatalf("chunk of the holder not accepted: %v", renderAll(d.Effects))
	}
	for b.Loop() {
		Decide(r, in, env)
	}
}
