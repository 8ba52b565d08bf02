package roomevents_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

// parse reads raw as Walkie does: the events must mean what their
// builders say.
func parse(t *testing.T, raw json.RawMessage) floor.Input {
	t.Helper()
	env, err := matrix.ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := matrix.ParseInput(env)
	if !ok {
		t.Fatalf("Walkie ignores %s", raw)
	}
	return in
}

func TestTalkEventsReadAsTheirNamesSay(t *testing.T) {
	b := roomevents.New("t")
	b.ChunkLength = 5
	d := floor.Device{UserID: "@a:x", DeviceID: "A"}

	req, reqID := b.Request("!r:x", d, floor.ActionRelease)
	if in, ok := parse(t, req).(floor.TalkRequest); !ok || in.EventID != reqID || in.Sender != d.UserID ||
		in.Action != floor.ActionRelease || in.DeviceID != "A" || in.Invalid != "" {
		t.Errorf("request: %+v", parse(t, req))
	}
	started, startedID := b.StartedInTerm("!r:x", d, 7)
	if in, ok := parse(t, started).(floor.BroadcastInfo); !ok || in.State != floor.BroadcastStarted || in.Term != 7 ||
		in.ChunkLength != 5*time.Second || in.DeviceID != "A" {
		t.Errorf("started: %+v", parse(t, started))
	}
	if plain, _ := b.Started("!r:x", d); parse(t, plain).(floor.BroadcastInfo).Term != 0 {
		t.Errorf("started without a term: %s", plain)
	}
	if in, ok := parse(t, b.Chunk("!r:x", d, startedID, 1)).(floor.Chunk); !ok || in.BroadcastEventID != startedID {
		t.Errorf("chunk: %+v", in)
	}
	if in, ok := parse(t, b.Stopped("!r:x", d, startedID, 3)).(floor.BroadcastInfo); !ok ||
		in.State != floor.BroadcastStopped || in.StartedEventID != startedID {
		t.Errorf("stopped: %+v", in)
	}
	if reqID != "$t1" || startedID != "$t2" {
		t.Errorf("event IDs %s and %s, want $t1 and $t2", reqID, startedID)
	}
}

func TestRoomWithPermitsIsAManagedRoom(t *testing.T) {
	devices := []floor.Device{{UserID: "@a:x", DeviceID: "A"}, {UserID: "@b:x", DeviceID: "B"}}
	events := roomevents.New("s").RoomWithPermits("!r:x", "@creator:x", "@bot:x", devices)
	var joined []string
	var permits int
	for _, raw := range events {
		switch in := parse(t, raw).(type) {
		case floor.MemberChange:
			joined = append(joined, in.UserID)
		case floor.PowerChange:
			if in.Levels.Users["@bot:x"] != 100 || in.Levels.Events[floor.TypeFloor] != 100 {
				t.Errorf("power levels: %+v", in.Levels)
			}
		case floor.PermitChange:
			if !in.Send || !in.Receive || in.StateKey != devices[permits].PermitStateKey() {
				t.Errorf("permit: %+v", in)
			}
			permits++
		}
	}
	if len(joined) != 4 || joined[0] != "@creator:x" || joined[1] != "@bot:x" || permits != 2 {
		t.Errorf("joined %v, %d permits", joined, permits)
	}
}
