package matrix_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

func TestParsePowerLevels(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    floor.PowerLevels
	}{
		{
			name:    "integers",
			content: `{"users":{"@a:t":100},"users_default":1,"events":{"m.x":20},"events_default":2,"state_default":30,"redact":40}`,
			want: floor.PowerLevels{Users: map[string]int{"@a:t": 100}, UsersDefault: 1, Events: map[string]int{"m.x": 20},
				EventsDefault: 2, StateDefault: 30, Redact: 40},
		},
		{
			name:    "absent keys take the spec's defaults",
			content: `{}`,
			want:    floor.PowerLevels{Users: map[string]int{}, Events: map[string]int{}, StateDefault: 50, Redact: 50},
		},
		{
			// Rooms before version 10 may hold levels as strings.
			name:    "strings count as their integers",
			content: `{"users":{"@a:t":"100","@b:t":" 50 "},"users_default":"0","events":{"m.x":"-5"},"state_default":"50","redact":"25"}`,
			want: floor.PowerLevels{Users: map[string]int{"@a:t": 100, "@b:t": 50}, Events: map[string]int{"m.x": -5},
				StateDefault: 50, Redact: 25},
		},
		{
			name:    "a value that is no level loses only itself",
			content: `{"users":{"@a:t":100,"@b:t":"lots","@c:t":null,"@d:t":{}},"state_default":"high","redact":1e300}`,
			want:    floor.PowerLevels{Users: map[string]int{"@a:t": 100}, Events: map[string]int{}, StateDefault: 50, Redact: 50},
		},
		{
			name:    "old rooms' floats count as their integer part",
			content: `{"users":{"@a:t":50.0,"@b:t":75.9}}`,
			want:    floor.PowerLevels{Users: map[string]int{"@a:t": 50, "@b:t": 75}, Events: map[string]int{}, StateDefault: 50, Redact: 50},
		},
		{
			name:    "users that is not an object",
			content: `{"users":"@a:t","state_default":0}`,
			want:    floor.PowerLevels{Users: map[string]int{}, Events: map[string]int{}, Redact: 50},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := matrix.ParsePowerLevels(json.RawMessage(tc.content))
			if !maps.Equal(got.Users, tc.want.Users) || !maps.Equal(got.Events, tc.want.Events) ||
				got.UsersDefault != tc.want.UsersDefault || got.EventsDefault != tc.want.EventsDefault ||
				got.StateDefault != tc.want.StateDefault || got.Redact != tc.want.Redact {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseRoomCreate(t *testing.T) {
	cases := []struct {
		content string
		want    floor.RoomCreate
	}{
		{`{"room_version":"12","additional_creators":["@b:t","@c:t"]}`,
			floor.RoomCreate{RoomVersion: "12", AdditionalCreators: []string{"@b:t", "@c:t"}}},
		{`{"creator":"@a:t"}`, floor.RoomCreate{RoomVersion: "1"}}, // no room_version: version 1
		{`{"room_version":12,"additional_creators":["@b:t",7,"nobody",null]}`,
			floor.RoomCreate{RoomVersion: "1", AdditionalCreators: []string{"@b:t"}}},
		{`[]`, floor.RoomCreate{RoomVersion: "1"}},
	}
	for _, tc := range cases {
		env := envelope(t, "m.room.create", "@a:t", "", tc.content, 1)
		in, ok := matrix.ParseInput(env)
		got, isCreate := in.(floor.RoomCreate)
		if !ok || !isCreate {
			t.Fatalf("%s: parsed as %#v", tc.content, in)
		}
		tc.want.EventID, tc.want.Sender = env.EventID, "@a:t"
		if got.RoomVersion != tc.want.RoomVersion || got.Sender != tc.want.Sender ||
			!slices.Equal(got.AdditionalCreators, tc.want.AdditionalCreators) {
			t.Errorf("%s: got %+v, want %+v", tc.content, got, tc.want)
		}
	}
}

// The snapshot hands the engine what it needs to decide a reload as it
// decides live: the latest floor state with its sender, ID and time, the
// permits with their senders, and the create event.
func TestSnapshotFromState(t *testing.T) {
	const bot = "@walkie:t"
	events := []json.RawMessage{
		raw(t, "m.room.create", "@a:t", "", `{"room_version":"12","additional_creators":["`+bot+`"]}`, 1),
		raw(t, "m.room.power_levels", "@a:t", "", `{"users":{"@b:t":"50"},"state_default":"50"}`, 2),
		raw(t, floor.TypeFloor, "@admin:t", "", `{"term":3,"queue":[],"listeners":0}`, 1700000000123),
		raw(t, floor.TypePermit, "@mallory:t", "_@b:t_B", `{}`, 4),
	}
	snap, _ := matrix.Snapshot("!r:t", events)
	if f := snap.Floor; f == nil || f.Sender != "@admin:t" || f.EventID != "$ev1700000000123" ||
		!f.Timestamp.Equal(time.UnixMilli(1700000000123)) {
		t.Errorf("latest floor state %+v", snap.Floor)
	}
	if len(snap.Permits) != 1 || snap.Permits[0].Sender != "@mallory:t" {
		t.Errorf("permits %+v: the sender must come along, it tells a forgery", snap.Permits)
	}
	levels := snap.PowerLevels()
	if levels.UserLevel(bot) != floor.CreatorLevel || levels.UserLevel("@a:t") != floor.CreatorLevel {
		t.Errorf("creators of a v12 room: bot %d, @a:t %d", levels.UserLevel(bot), levels.UserLevel("@a:t"))
	}
	if levels.UserLevel("@b:t") != 50 || levels.StateDefault != 50 {
		t.Errorf("string levels: @b:t %d, state_default %d", levels.UserLevel("@b:t"), levels.StateDefault)
	}
}

func raw(t *testing.T, typ, sender, stateKey, content string, ts int64) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "event_id": "$ev" + strconv.FormatInt(ts, 10), "sender": sender,
		"state_key": stateKey, "origin_server_ts": ts, "content": json.RawMessage(content)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func envelope(t *testing.T, typ, sender, stateKey, content string, ts int64) matrix.Envelope {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(raw(t, typ, sender, stateKey, content, ts), &m)
	m["room_id"] = "!r:t"
	b, _ := json.Marshal(m)
	env, err := matrix.ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
