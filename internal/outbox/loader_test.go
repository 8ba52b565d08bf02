package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/outbox"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

const bot = "@walkie:test"

// roomServer is a homeserver stand-in holding one room's state: it answers
// /state and the power-levels event from it, keeps what the bot PUTs, and
// answers every other send.
type roomServer struct {
	mu    sync.Mutex
	state map[string]string // "type|state_key" -> event JSON
	puts  []map[string]any  // power-levels contents the bot put, in order
	// floors are the floor-state events the bot put and the rig has not
	// yet delivered back to Walkie (a homeserver echoes them).
	floors []string
	// afterStateLoad runs once, after /state was answered: an admin's
	// change made while the loader decides on what it read. Set it before
	// the first request.
	afterStateLoad func()
}

func (s *roomServer) set(raw string) {
	var ev struct {
		Type     string `json:"type"`
		StateKey string `json:"state_key"`
	}
	_ = json.Unmarshal([]byte(raw), &ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state[ev.Type+"|"+ev.StateKey] = raw
}

// powerLevels is the room's current power-levels content.
func (s *roomServer) powerLevels() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ev struct {
		Content map[string]any `json:"content"`
	}
	_ = json.Unmarshal([]byte(s.state["m.room.power_levels|"]), &ev)
	return ev.Content
}

func (s *roomServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	switch {
	case req.Method == http.MethodGet && strings.HasSuffix(path, "/state"):
		s.mu.Lock()
		var events []string
		for _, raw := range s.state {
			events = append(events, raw)
		}
		s.mu.Unlock()
		_, _ = io.WriteString(w, "["+strings.Join(events, ",")+"]")
		s.mu.Lock()
		hook := s.afterStateLoad
		s.afterStateLoad = nil
		s.mu.Unlock()
		if hook != nil {
			hook() // before the handler returns, so before the answer is flushed
		}
	case req.Method == http.MethodGet && strings.Contains(path, "/state/m.room.power_levels"):
		_ = json.NewEncoder(w).Encode(s.powerLevels())
	case req.Method == http.MethodPut && strings.Contains(path, "/state/m.room.power_levels"):
		var content map[string]any
		_ = json.NewDecoder(req.Body).Decode(&content)
		b, _ := json.Marshal(content)
		s.set(stateEvent("m.room.power_levels", bot, string(b)))
		s.mu.Lock()
		s.puts = append(s.puts, content)
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"event_id":"$pl-by-bot"}`)
	case req.Method == http.MethodPut && strings.Contains(path, "/state/"+floor.TypeFloor):
		var content map[string]any
		_ = json.NewDecoder(req.Body).Decode(&content)
		b, _ := json.Marshal(content)
		s.mu.Lock()
		id := fmt.Sprintf("$floor-by-bot-%d", len(s.floors)+len(s.puts)+1)
		s.floors = append(s.floors, `{"type":"`+floor.TypeFloor+`","event_id":"`+id+`","sender":"`+bot+
			`","state_key":"","origin_server_ts":2,"room_id":"`+room+`","content":`+string(b)+`}`)
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"event_id":"`+id+`"}`)
	case req.Method == http.MethodPut:
		_, _ = io.WriteString(w, `{"event_id":"$sent"}`)
	default:
		http.NotFound(w, req)
	}
}

func (s *roomServer) putCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.puts)
}

// setupRig is the outbox as the service runs it (sender, loader, decider,
// store) against a roomServer.
type setupRig struct {
	t      *testing.T
	hs     *roomServer
	st     *store.Store
	d      *decide.Decider
	sender *outbox.Sender
}

func newSetupRig(t *testing.T, manage bool, state ...string) *setupRig {
	t.Helper()
	hs := &roomServer{state: map[string]string{}}
	for _, raw := range state {
		hs.set(raw)
	}
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	st := pgtest.NewStore(t, store.Options{Controller: bot})
	client, err := mautrix.NewClient(srv.URL, bot, "as-token")
	if err != nil {
		t.Fatal(err)
	}
	client.DefaultHTTPRetries = 0
	d := decide.New(decide.Options{Store: st, Controller: bot, ManagePowerLevels: manage, Log: zerolog.Nop()})
	loader := &outbox.Loader{Client: client, Store: st, Decider: d, Controller: bot, Log: zerolog.Nop()}
	sender := &outbox.Sender{Client: client, Store: st, Loader: loader, Ready: d.OutboxReady(), Poll: 20 * time.Millisecond, Log: zerolog.Nop()}
	return &setupRig{t: t, hs: hs, st: st, d: d, sender: sender}
}

// load queues a state load, as a join or a start-up does, and sends until
// the outbox is empty, delivering the echoes of the bot's floor states as
// a homeserver does (room setup waits for the first); no row may fail.
func (r *setupRig) load() {
	r.t.Helper()
	p, _ := matrix.LoadStateCall.Payload()
	if err := r.st.Enqueue(r.t.Context(), room, store.OutboxRow{Kind: matrix.KindLoadState, Payload: p}); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.t.Context())
	done := make(chan struct{})
	go func() { r.sender.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		r.hs.mu.Lock()
		echoes := r.hs.floors
		r.hs.floors = nil
		r.hs.mu.Unlock()
		for i, raw := range echoes {
			if _, err := r.d.Transaction(r.t.Context(), fmt.Sprintf("echo-%d-%d", time.Now().UnixNano(), i), []json.RawMessage{json.RawMessage(raw)}); err != nil {
				r.t.Fatal(err)
			}
		}
		if depth, err := r.st.OutboxDepth(r.t.Context()); err == nil && depth == 0 && len(echoes) == 0 {
			r.hs.mu.Lock()
			pending := len(r.hs.floors)
			r.hs.mu.Unlock()
			if pending == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the outbox was not drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var failed []string
	rows, _ := r.st.Pool().Query(r.t.Context(), `SELECT kind || ': ' || coalesce(last_error, '') FROM outbox WHERE failed`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		failed = append(failed, s)
	}
	rows.Close()
	if len(failed) > 0 {
		r.t.Fatalf("outbox rows failed: %v", failed)
	}
}

// lastPut is the last power-levels content the bot put (nil: none).
func (r *setupRig) lastPut() map[string]any {
	r.hs.mu.Lock()
	defer r.hs.mu.Unlock()
	if len(r.hs.puts) == 0 {
		return nil
	}
	return r.hs.puts[len(r.hs.puts)-1]
}

func stateEvent(typ, sender, content string) string {
	return stateEventKey(typ, "", sender, content)
}

func stateEventKey(typ, stateKey, sender, content string) string {
	return `{"type":"` + typ + `","event_id":"$` + typ + stateKey + `","sender":"` + sender + `","state_key":"` + stateKey +
		`","origin_server_ts":1,"content":` + content + `}`
}

func joined(user string) string {
	return stateEventKey("m.room.member", user, user, `{"membership":"join"}`)
}

// Matrix's default power levels with the bot at 100: nothing set up yet.
const defaultLevels = `{"users":{"@admin:test":100,"@walkie:test":100},"users_default":0,"events":{"m.room.power_levels":100},"state_default":50,"redact":50}`

func eventsOf(content map[string]any) map[string]any {
	events, _ := content["events"].(map[string]any)
	return events
}

// Room setup is a setup_power_levels row of the load's decision, which
// reads the power levels right before it writes them: an admin's change
// made after /state was loaded is kept, not overwritten by the copy
// /state gave (issue 11, item 17).
func TestRoomSetupEditsTheLatestPowerLevels(t *testing.T) {
	r := newSetupRig(t, true, joined("@admin:test"), joined(bot), stateEvent("m.room.power_levels", "@admin:test", defaultLevels))
	r.hs.afterStateLoad = func() {
		r.hs.set(stateEvent("m.room.power_levels", "@admin:test",
			`{"users":{"@admin:test":100,"@walkie:test":100,"@mod:test":50},"users_default":0,"events":{"m.room.power_levels":100,"m.voice_broadcast_info":20},"state_default":50,"redact":50}`))
	}
	r.load()
	put := r.lastPut()
	if put == nil {
		t.Fatal("the room was not set up")
	}
	if users, _ := put["users"].(map[string]any); users["@mod:test"] != 50.0 {
		t.Errorf("the admin's new moderator was lost: users %v", users)
	}
	events := eventsOf(put)
	if events[floor.TypeBroadcastInfo] != 20.0 || events[floor.TypePermit] != 0.0 || events[floor.TypeFloor] != 100.0 {
		t.Errorf("events %v: want the admin's broadcast level kept and only the missing levels added", events)
	}
}

// Room setup runs once per room: a level an admin removes afterwards is
// not put back by a reload (a restart) nor by a re-join (issue 11,
// item 17).
func TestRoomSetupRunsOncePerRoom(t *testing.T) {
	r := newSetupRig(t, true, joined("@admin:test"), joined(bot), stateEvent("m.room.power_levels", "@admin:test", defaultLevels))
	r.load()
	if r.hs.putCount() != 1 {
		t.Fatalf("%d power-level writes on the first load, want 1", r.hs.putCount())
	}
	removed := r.hs.powerLevels()
	delete(eventsOf(removed), floor.TypePermit)
	b, _ := json.Marshal(removed)
	r.hs.set(stateEvent("m.room.power_levels", "@admin:test", string(b)))

	r.load() // a restart reloads every joined room
	if _, err := r.d.DecideInputs(t.Context(), room, floor.MemberChange{EventID: "$leave", UserID: bot, Membership: "leave"}); err != nil {
		t.Fatal(err)
	}
	r.load() // joined again
	if n := r.hs.putCount(); n != 1 {
		t.Fatalf("the bot wrote the power levels %d times, want once; last: %v", n, r.lastPut())
	}
	if _, back := eventsOf(r.hs.powerLevels())[floor.TypePermit]; back {
		t.Error("the permit level the admin removed was put back")
	}
}

// manage_power_levels: false never changes power levels.
func TestRoomSetupNeedsManagePowerLevels(t *testing.T) {
	r := newSetupRig(t, false, joined("@admin:test"), joined(bot), stateEvent("m.room.power_levels", "@admin:test", defaultLevels))
	r.load()
	if n := r.hs.putCount(); n != 0 {
		t.Fatalf("the bot wrote the power levels %d times with manage_power_levels off", n)
	}
}

// Room setup reserves the floor state and talk responses at the bot's
// level. In a room version 12 room that makes the bot a creator, its level
// is infinite and unlisted; setup writes the highest level anyone holds.
func TestLoaderSetsUpAVersion12RoomWhoseCreatorIsTheBot(t *testing.T) {
	r := newSetupRig(t, true, joined(bot),
		stateEvent("m.room.create", "@admin:test", `{"room_version":"12","additional_creators":["@walkie:test"]}`),
		stateEvent("m.room.power_levels", "@admin:test", `{"users":{"@mod:test":50},"events":{"m.room.power_levels":100}}`))
	r.load()
	put := r.lastPut()
	if put == nil {
		t.Fatal("the room was not set up: the bot's power as a creator was not seen")
	}
	events := eventsOf(put)
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
	r := newSetupRig(t, true, joined(bot),
		stateEvent("m.room.create", "@admin:test", `{"room_version":"5","creator":"@admin:test"}`),
		stateEvent("m.room.power_levels", "@admin:test", `{"users":{"@walkie:test":"100","@admin:test":"100"},"state_default":"50","redact":"50"}`))
	r.load()
	put := r.lastPut()
	if put == nil {
		t.Fatal("the room was not set up: string levels were not read")
	}
	if events := eventsOf(put); events[floor.TypeFloor] != 100.0 || events[floor.TypeResponse] != 100.0 {
		t.Errorf("events %v", events)
	}
	if put["state_default"] != "50" {
		t.Errorf("state_default rewritten to %v", put["state_default"])
	}
}
