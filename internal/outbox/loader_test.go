package outbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/outbox"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// loadRoom runs the state loader against a homeserver stand-in that
// answers /state with state, and returns the power-levels content the
// loader put (nil when it put none).
func loadRoom(t *testing.T, state ...string) map[string]any {
	t.Helper()
	var put map[string]any
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/state"):
			_, _ = io.WriteString(w, "["+strings.Join(state, ",")+"]")
		case req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/state/m.room.power_levels"):
			if err := json.NewDecoder(req.Body).Decode(&put); err != nil {
				t.Error(err)
			}
			_, _ = io.WriteString(w, `{"event_id":"$pl2"}`)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(hs.Close)
	const bot = "@walkie:test"
	st, err := store.Open(t.Context(), store.Options{URI: pgtest.NewDatabase(t), Controller: bot})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	client, err := mautrix.NewClient(hs.URL, bot, "as-token")
	if err != nil {
		t.Fatal(err)
	}
	client.DefaultHTTPRetries = 0
	loader := &outbox.Loader{Client: client, Store: st, Controller: bot, ManagePowerLevels: true, Log: zerolog.Nop(),
		Decider: decide.New(decide.Options{Store: st, Controller: bot, Log: zerolog.Nop()})}
	if err := loader.Load(t.Context(), room); err != nil {
		t.Fatal(err)
	}
	return put
}

func stateEvent(typ, sender, content string) string {
	return `{"type":"` + typ + `","event_id":"$` + typ + `","sender":"` + sender + `","state_key":"","origin_server_ts":1,"content":` + content + `}`
}

// Room setup reserves the floor state and talk responses at the bot's
// level. In a room version 12 room that makes the bot a creator, its level
// is infinite and unlisted; setup writes the highest level anyone holds.
func TestLoaderSetsUpAVersion12RoomWhoseCreatorIsTheBot(t *testing.T) {
	put := loadRoom(t,
		stateEvent("m.room.create", "@admin:test", `{"room_version":"12","additional_creators":["@walkie:test"]}`),
		stateEvent("m.room.power_levels", "@admin:test", `{"users":{"@mod:test":50},"events":{"m.room.power_levels":100}}`))
	if put == nil {
		t.Fatal("the loader did not set up power levels: it did not see the bot's power as a creator")
	}
	events, _ := put["events"].(map[string]any)
	for typ, want := range map[string]float64{floor.TypeFloor: 100, floor.TypeResponse: 100, floor.TypePermit: 0,
		floor.TypeBroadcastInfo: 0, "m.room.power_levels": 100} {
		if events[typ] != want {
			t.Errorf("events[%s] = %v, want %v (all: %v)", typ, events[typ], want, events)
		}
	}
	if users, _ := put["users"].(map[string]any); len(users) != 1 {
		t.Errorf("users changed to %v; creators must not be listed in a v12 room", users)
	}
}

// Levels written as strings in an old room count as their integers: the
// room is managed and set up, and other keys keep their form.
func TestLoaderSetsUpAnOldRoomWithStringLevels(t *testing.T) {
	put := loadRoom(t,
		stateEvent("m.room.create", "@admin:test", `{"room_version":"5","creator":"@admin:test"}`),
		stateEvent("m.room.power_levels", "@admin:test", `{"users":{"@walkie:test":"100","@admin:test":"100"},"state_default":"50","redact":"50"}`))
	if put == nil {
		t.Fatal("the loader did not set up power levels: string levels were not read")
	}
	events, _ := put["events"].(map[string]any)
	if events[floor.TypeFloor] != 100.0 || events[floor.TypeResponse] != 100.0 {
		t.Errorf("events %v", events)
	}
	if put["state_default"] != "50" {
		t.Errorf("state_default rewritten to %v", put["state_default"])
	}
}
