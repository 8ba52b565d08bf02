package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	testAdminToken = "ADMIN6TEST6TOKEN6NOT6A6SECRET"
	testHSToken    = "HS6TESTTOKEN6NOT6A6SECRET"
	bot            = "@walkie:example.org"
	mod            = "@mod:example.org"
	alice          = "@alice:example.org"
)

// newTestService builds the real service on a fresh database, without
// starting its loops: tests drive it through its HTTP handler and store.
func newTestService(t *testing.T) (*Service, *prometheus.Registry) {
	t.Helper()
	return newTestServiceOn(t, "http://127.0.0.1:1")
}

// newTestServiceOn is newTestService talking to the homeserver at address
// (an httptest server standing in for the parts a test needs).
func newTestServiceOn(t *testing.T, address string) (*Service, *prometheus.Registry) {
	t.Helper()
	cfg, err := testconfig.Parse(testconfig.Values{HomeserverURL: address, Domain: "example.org", Port: 29330,
		ASToken: "AS6TESTTOKEN6NOT6A6SECRET", HSToken: testHSToken, AdminToken: testAdminToken,
		DatabaseURL: pgtest.NewDatabase(t),
		Permissions: map[string]string{"example.org": "user", "@admin:example.org": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	svc, err := NewService(context.Background(), cfg, zerolog.Nop(), reg, Build{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc, reg
}

// seedHeldRoom makes a managed room in which alice holds the floor.
func seedHeldRoom(t *testing.T, svc *Service, room string) {
	t.Helper()
	levels := floor.PowerLevels{Users: map[string]int{bot: 100, mod: 50}, StateDefault: 50, Redact: 50,
		Events: map[string]int{floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeFloor: 100}}
	_, _, err := svc.decider.Decide(context.Background(), room,
		floor.Snapshot{Power: &levels, Members: []floor.MemberChange{
			{UserID: bot, Membership: "join"}, {UserID: mod, Membership: "join"}, {UserID: alice, Membership: "join"}},
			Permits: []floor.PermitChange{{Sender: alice, StateKey: "_" + alice + "_A", DeviceID: "A", Send: true, Receive: true}}},
		floor.TalkRequest{EventID: "$req", Sender: alice, Action: floor.ActionRequest, DeviceID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	r, _, _ := svc.store.Room(context.Background(), room)
	if r.Holder == nil {
		t.Fatal("seed: alice does not hold the floor")
	}
}

func adminDo(t *testing.T, h http.Handler, method, path, token string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

func TestAdminAPI(t *testing.T) {
	svc, _ := newTestService(t)
	const room = "!room:example.org"
	seedHeldRoom(t, svc, room)
	h := svc.Handler()
	base := "/_walkie/admin/v1/rooms/" + room

	if code, body := adminDo(t, h, "GET", base, ""); code != 401 || body["errcode"] != "M_UNAUTHORIZED" {
		t.Fatalf("no token: %d %v", code, body)
	}
	if code, body := adminDo(t, h, "GET", base, "wrong"); code != 403 || body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("wrong token: %d %v", code, body)
	}
	if code, _ := adminDo(t, h, "GET", "/_walkie/admin/v1/rooms/!unknown:example.org", testAdminToken); code != 404 {
		t.Fatalf("unknown room: %d", code)
	}
	for _, bad := range []string{"room:example.org", "!nul%00:example.org", "!bad%ff:example.org", "!" + strings.Repeat("x", 300)} {
		for _, path := range []string{"", "/log", "/release"} {
			method := map[bool]string{true: "POST", false: "GET"}[path == "/release"]
			if code, body := adminDo(t, h, method, "/_walkie/admin/v1/rooms/"+bad+path, testAdminToken); code != 400 || body["errcode"] != "M_INVALID_PARAM" {
				t.Fatalf("%s %s: %d %v, want 400 M_INVALID_PARAM", method, bad+path, code, body)
			}
		}
	}
	code, status := adminDo(t, h, "GET", base, testAdminToken)
	holder, _ := status["holder"].(map[string]any)
	if code != 200 || holder["user_id"] != alice || status["managed"] != true {
		t.Fatalf("status: %d %v", code, status)
	}
	code, rel := adminDo(t, h, "POST", base+"/release", testAdminToken)
	if code != 200 || rel["released"] != true {
		t.Fatalf("release: %d %v", code, rel)
	}
	if r, _, _ := svc.store.Room(context.Background(), room); r.Holder != nil {
		t.Fatal("the admin release did not free the floor")
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=ten", "before=-1", "before=x", "before=9223372036854775808"} {
		if code, body := adminDo(t, h, "GET", base+"/log?"+q, testAdminToken); code != 400 || body["errcode"] != "M_INVALID_PARAM" {
			t.Fatalf("log?%s: %d %v, want 400 M_INVALID_PARAM", q, code, body)
		}
	}
	code, logPage := adminDo(t, h, "GET", base+"/log?limit=2", testAdminToken)
	entries, _ := logPage["entries"].([]any)
	if code != 200 || len(entries) != 2 || logPage["next_before"] == nil {
		t.Fatalf("log page: %d %v", code, logPage)
	}
	first, _ := entries[0].(map[string]any)
	if first["action"] != "admin_release" && first["action"] != "revoke" {
		t.Fatalf("newest log entry is %v, want the admin release", first)
	}

	seedHeldRoom(t, svc, "!another:example.org")
	if code, body := adminDo(t, h, "GET", "/_walkie/admin/v1/rooms", ""); code != 401 {
		t.Fatalf("room list without a token: %d %v", code, body)
	}
	code, list := adminDo(t, h, "GET", "/_walkie/admin/v1/rooms?limit=1", testAdminToken)
	rooms, _ := list["rooms"].([]any)
	if code != 200 || len(rooms) != 1 || list["next_after"] != "!another:example.org" {
		t.Fatalf("first page of rooms: %d %v", code, list)
	}
	code, list = adminDo(t, h, "GET", "/_walkie/admin/v1/rooms?limit=1&after=!another:example.org", testAdminToken)
	rooms, _ = list["rooms"].([]any)
	if r, _ := rooms[0].(map[string]any); code != 200 || len(rooms) != 1 || r["room_id"] != room || r["managed"] != true {
		t.Fatalf("second page of rooms: %d %v", code, list)
	}
	code, retry := adminDo(t, h, "POST", base+"/outbox/retry", testAdminToken)
	if code != 200 || retry["requeued"] != float64(0) {
		t.Fatalf("outbox retry with nothing failed: %d %v", code, retry)
	}
}

func TestRoomCommands(t *testing.T) {
	svc, _ := newTestService(t)
	const room = "!room:example.org"
	seedHeldRoom(t, svc, room)
	ctx := context.Background()
	n := 0
	say := func(sender, body string) string {
		n++
		eventID := fmt.Sprintf("$cmd%d", n)
		rows := func() (n int) {
			_ = svc.store.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE room_id = $1`, room).Scan(&n)
			return n
		}
		before := rows()
		deliver(t, svc, "txn"+eventID, map[string]any{"type": "m.room.message", "event_id": eventID,
			"room_id": room, "sender": sender, "content": map[string]any{"msgtype": "m.text", "body": body}})
		if rows() == before {
			return ""
		}
		var text string
		err := svc.store.Pool().QueryRow(ctx, `SELECT payload->'content'->>'body' FROM outbox
			WHERE room_id = $1 AND payload->>'event_type' = 'm.room.message' ORDER BY id DESC LIMIT 1`, room).Scan(&text)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	if got := say(alice, "!walkie status"); !strings.Contains(got, alice+" (A) holds the floor, term 1") {
		t.Fatalf("status: %q", got)
	}
	if got := say(alice, "!walkie config"); !strings.Contains(got, "max_talk 30s") {
		t.Fatalf("config: %q", got)
	}
	if got := say(alice, "!walkie release"); !strings.Contains(got, "Only room moderators") {
		t.Fatalf("release by a member: %q", got)
	}
	if r, _, _ := svc.store.Room(ctx, room); r.Holder == nil {
		t.Fatal("a member's release must not free the floor")
	}
	if got := say(mod, "!walkie release"); !strings.Contains(got, "Releasing the floor") {
		t.Fatalf("release by a moderator: %q", got)
	}
	if r, _, _ := svc.store.Room(ctx, room); r.Holder != nil {
		t.Fatal("a moderator's release must free the floor")
	}
	if got := say(alice, "!walkie"); !strings.Contains(got, "Walkie commands") {
		t.Fatalf("help: %q", got)
	}
	if got := say("@stranger:elsewhere.example", "!walkie status"); got != "" {
		t.Fatalf("a blocked user's command must get no answer, got %q", got)
	}
}

func TestMetricsCountDecisions(t *testing.T) {
	svc, reg := newTestService(t)
	seedHeldRoom(t, svc, "!m:example.org")
	_, _, err := svc.decider.Decide(context.Background(), "!m:example.org",
		floor.TalkRequest{EventID: "$r2", Sender: mod, Action: floor.ActionRequest, DeviceID: "M"})
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(svc.metrics.Denials.WithLabelValues(string(floor.ReasonNoPermit))); got != 1 {
		t.Fatalf("walkie_floor_denials_total{reason=no_permit} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(svc.metrics.FloorRequests.WithLabelValues("denied")); got != 1 {
		t.Fatalf("walkie_floor_requests_total{result=denied} = %v, want 1", got)
	}
	n, err := testutil.GatherAndCount(reg, "walkie_rooms_managed", "walkie_outbox_depth", "walkie_database_up")
	if err != nil || n != 3 {
		t.Fatalf("scrape-time gauges: %d %v", n, err)
	}
	// alice's permit is valid; the moderator has none. Only rooms the bot
	// has joined count.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP walkie_permits_valid Valid talk permits (a joined member's, not expired) in joined rooms, as of each room's last decision.
# TYPE walkie_permits_valid gauge
walkie_permits_valid 0
`), "walkie_permits_valid"); err != nil {
		t.Fatalf("before the bot joined: %v", err)
	}
	deliver(t, svc, "botjoin", map[string]any{"type": "m.room.member", "sender": bot, "state_key": bot,
		"event_id": "$botjoin", "room_id": "!m:example.org", "content": map[string]any{"membership": "join"}})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP walkie_permits_valid Valid talk permits (a joined member's, not expired) in joined rooms, as of each room's last decision.
# TYPE walkie_permits_valid gauge
walkie_permits_valid 1
`), "walkie_permits_valid"); err != nil {
		t.Fatal(err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		name := mf.GetName()
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		if !strings.HasPrefix(name, "walkie_") {
			t.Errorf("metric %s lacks the walkie_ prefix", name)
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(l.GetValue(), "@") || strings.HasPrefix(l.GetValue(), "!") {
					t.Errorf("metric %s carries a user or room ID label %s=%s", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestHealthReportsReadiness(t *testing.T) {
	svc, _ := newTestService(t)
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_walkie/health", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Connect the service is not ready: %d", rec.Code)
	}
	svc.ready.Store(true)
	rec = httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_walkie/health", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || string(body) != "ok\n" {
		t.Fatalf("ready: %d %q", rec.Code, body)
	}
}

func TestMetricsListenerOffLoopbackIsWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		listen string
		warn   bool
	}{{"127.0.0.1:9330", false}, {"localhost:9330", false}, {"[::1]:9330", false}, {"0.0.0.0:9330", true}, {":9330", true}} {
		var logs strings.Builder
		svc := &Service{cfg: &config.Config{Metrics: config.MetricsConfig{Enabled: true, Listen: tc.listen}}, log: zerolog.New(&logs)}
		svc.warnIfMetricsExposed()
		if got := strings.Contains(logs.String(), "no authentication"); got != tc.warn {
			t.Errorf("listen %s: warned=%v, want %v (%s)", tc.listen, got, tc.warn, logs.String())
		}
	}
}
