package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

func TestSummariseUsesNearestRank(t *testing.T) {
	var samples []time.Duration
	for i := 1; i <= 200; i++ {
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	got := summarise(samples)
	want := LatencySummary{N: 200, P50: 100 * time.Millisecond, P95: 190 * time.Millisecond,
		P99: 198 * time.Millisecond, Max: 200 * time.Millisecond}
	if got != want {
		t.Errorf("summarise = %+v, want %+v", got, want)
	}
	if one := summarise([]time.Duration{time.Second}); one.P50 != time.Second || one.P99 != time.Second {
		t.Errorf("one sample: %+v", one)
	}
	if empty := summarise(nil); empty != (LatencySummary{}) {
		t.Errorf("no samples: %+v", empty)
	}
}

func TestParseTPS(t *testing.T) {
	out := `transaction type: single-row-update.sql
number of clients: 4
latency average = 0.512 ms
initial connection time = 3.117 ms
tps = 7821.012345 (without initial connection time)
`
	tps, err := parseTPS(out)
	if err != nil || tps != 7821.012345 {
		t.Errorf("parseTPS = %v, %v; want 7821.012345", tps, err)
	}
	if _, err := parseTPS("pgbench: error: connection refused"); err == nil {
		t.Error("output without a tps line was accepted")
	}
}

type decoded struct {
	Type     string         `json:"type"`
	EventID  string         `json:"event_id"`
	Sender   string         `json:"sender"`
	StateKey *string        `json:"state_key"`
	Content  map[string]any `json:"content"`
}

func decode(t *testing.T, raw json.RawMessage) decoded {
	t.Helper()
	var d decoded
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// One cycle is: A requests, starts, B requests, A chunks and stops, B
// starts, chunks and stops; the next cycle moves to the next pair.
func TestRoomScriptPlaysOneCycleThenRotates(t *testing.T) {
	devs := []floor.Device{{UserID: "@a:x", DeviceID: "A"}, {UserID: "@b:x", DeviceID: "B"}, {UserID: "@c:x", DeviceID: "C"}}
	s := &roomScript{roomID: "!r:x", devices: devs}
	f := roomevents.New("bench")
	type step struct {
		sender, typ, what string
		grant             bool
	}
	want := []step{{"@a:x", floor.TypeRequest, "request", true}, {"@a:x", floor.TypeBroadcastInfo, "started", false},
		{"@b:x", floor.TypeRequest, "request", false}}
	for range chunksPerTurn {
		want = append(want, step{"@a:x", "m.voice_broadcast_chunk", "chunk", false})
	}
	want = append(want, step{"@a:x", floor.TypeBroadcastInfo, "stopped", true}, step{"@b:x", floor.TypeBroadcastInfo, "started", false})
	for range chunksPerTurn {
		want = append(want, step{"@b:x", "m.voice_broadcast_chunk", "chunk", false})
	}
	want = append(want, step{"@b:x", floor.TypeBroadcastInfo, "stopped", false})
	if len(want) != stepsPerCycle {
		t.Fatalf("test expects %d steps, the script has %d", len(want), stepsPerCycle)
	}

	var startedID string
	for i, w := range want {
		raw, grant := s.next(f, int64(10+i))
		ev := decode(t, raw)
		what := "chunk"
		switch {
		case ev.Type == floor.TypeRequest:
			what = ev.Content["action"].(string)
		case ev.Type == floor.TypeBroadcastInfo:
			what = ev.Content["state"].(string)
		}
		if ev.Sender != w.sender || ev.Type != w.typ || what != w.what || grant != w.grant {
			t.Fatalf("step %d: %s %s %s grant=%v, want %+v", i, ev.Sender, ev.Type, what, grant, w)
		}
		switch what {
		case "started":
			startedID = ev.EventID
			if ev.Content[floor.TermKey] != float64(10+i) || ev.StateKey == nil || *ev.StateKey != w.sender {
				t.Errorf("step %d: started %+v does not carry term %d and the sender's state key", i, ev, 10+i)
			}
		case "chunk", "stopped":
			rel, _ := ev.Content["m.relates_to"].(map[string]any)
			if rel["event_id"] != startedID || rel["rel_type"] != "m.reference" {
				t.Errorf("step %d: %s refers to %v, want the started event %s", i, what, rel, startedID)
			}
		}
	}
	raw, grant := s.next(f, 0)
	if ev := decode(t, raw); ev.Sender != "@b:x" || ev.Type != floor.TypeRequest || !grant {
		t.Errorf("second cycle starts with %s %s grant=%v, want @b:x's request", ev.Sender, ev.Type, grant)
	}
}

func TestGrantTrackerTimesAwaitedGrants(t *testing.T) {
	var requeued []int
	tr := newGrantTracker([]string{"!a:x", "!b:x"}, func(i int) { requeued = append(requeued, i) })
	t0 := time.Unix(1000, 0)

	tr.FloorPublished("!a:x", 0, t0) // setup
	tr.expect(0, t0)
	if !tr.park(0, t0.Add(time.Minute)) {
		t.Fatal("room parked although its grant has not arrived")
	}
	tr.FloorPublished("!a:x", 1, t0.Add(25*time.Millisecond))
	if len(requeued) != 1 || requeued[0] != 0 || tr.term(0) != 1 {
		t.Fatalf("after the grant: requeued %v, term %d", requeued, tr.term(0))
	}

	// A grant that arrives before the sender parks the room: ready at once.
	tr.expect(0, t0)
	tr.FloorPublished("!a:x", 2, t0.Add(5*time.Millisecond))
	if tr.park(0, t0.Add(time.Minute)) {
		t.Error("room parked although its grant already arrived")
	}
	if got := tr.latencies(); len(got) != 2 || got[0] != 5*time.Millisecond || got[1] != 25*time.Millisecond {
		t.Errorf("latencies = %v, want [5ms 25ms]", got)
	}

	// A grant that never comes is given up on, once.
	tr.expect(1, t0)
	tr.park(1, t0.Add(time.Second))
	tr.expire(t0.Add(2 * time.Second))
	tr.expire(t0.Add(3 * time.Second))
	if tr.timeouts.Load() != 1 || requeued[len(requeued)-1] != 1 {
		t.Errorf("timeouts %d, requeued %v", tr.timeouts.Load(), requeued)
	}
	if tr.unpublished() != 1 {
		t.Errorf("unpublished = %d, want 1 (room b never got floor state)", tr.unpublished())
	}
}

// Over the channel one cycle is: A requests and is granted, B requests and
// is queued, A releases and B is granted, B releases; the next cycle moves
// to the next pair.
func TestChannelScriptPlaysOneCycleThenRotates(t *testing.T) {
	a, b, c := floor.Device{UserID: "@a:x", DeviceID: "A"}, floor.Device{UserID: "@b:x", DeviceID: "B"}, floor.Device{UserID: "@c:x", DeviceID: "C"}
	s := &channelScript{roomID: "!r:x", devices: []floor.Device{a, b, c}}
	want := []channelStep{
		{dev: a, action: floor.ActionRequest, want: floor.LogGrant, wantDev: a, grant: true},
		{dev: b, action: floor.ActionRequest, want: floor.LogQueue, wantDev: b},
		{dev: a, action: floor.ActionRelease, want: floor.LogGrant, wantDev: b, grant: true},
		{dev: b, action: floor.ActionRelease, want: floor.LogRelease, wantDev: b},
		{dev: b, action: floor.ActionRequest, want: floor.LogGrant, wantDev: b, grant: true},
		{dev: c, action: floor.ActionRequest, want: floor.LogQueue, wantDev: c},
	}
	for i, w := range want {
		if got := s.next(); got != w {
			t.Fatalf("step %d: %+v, want %+v", i, got, w)
		}
	}
}
