package fakehs

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/matrix"
)

type floorLog struct {
	rooms []string
	terms []int64
}

func (l *floorLog) FloorPublished(room string, term int64, _ time.Time) {
	l.rooms, l.terms = append(l.rooms, room), append(l.terms, term)
}

// call makes one request with the as_token token ("" for none).
func call(t *testing.T, s *Server, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStandInAnswersWalkiesCalls(t *testing.T) {
	var seen floorLog
	s := Start(Options{BotUserID: "@walkie:x", ASToken: "as-token", Observer: &seen})
	defer s.Close()
	state := []json.RawMessage{json.RawMessage(`{"type":"m.room.member","state_key":"@a:x","content":{"membership":"join"}}`)}
	s.SetRoomState("!r:x", state)

	if code, body := call(t, s, "PUT", "/_matrix/client/v3/rooms/%21r:x/state/org.matrix.msc4002.floor/", "as-token", `{"term":7}`); code != 200 || !strings.Contains(body, `"event_id":"$fakehs`) {
		t.Errorf("floor state PUT: %d %s", code, body)
	}
	if len(seen.rooms) != 1 || seen.rooms[0] != "!r:x" || seen.terms[0] != 7 {
		t.Errorf("observer saw %v %v, want !r:x term 7", seen.rooms, seen.terms)
	}
	if code, body := call(t, s, "GET", "/_matrix/client/v3/rooms/%21r:x/state", "as-token", ""); code != 200 || !strings.Contains(body, `"@a:x"`) {
		t.Errorf("GET state: %d %s", code, body)
	}
	if code, body := call(t, s, "GET", "/_matrix/client/v3/account/whoami", "as-token", ""); code != 200 || !strings.Contains(body, `"@walkie:x"`) {
		t.Errorf("whoami: %d %s", code, body)
	}
	if code, _ := call(t, s, "POST", "/_matrix/client/v3/register", "as-token", `{}`); code != 400 {
		t.Errorf("register answered %d, want 400 M_USER_IN_USE", code)
	}
	if s.Refused() != 0 {
		t.Errorf("refused %d expected calls", s.Refused())
	}
	if code, _ := call(t, s, "PUT", "/_matrix/client/v3/rooms/%21r:x/send/m.room.message/1", "wrong", `{}`); code != 401 {
		t.Errorf("wrong as_token answered %d, want 401", code)
	}
	if code, _ := call(t, s, "GET", "/_matrix/client/v3/sync", "as-token", ""); code != 404 {
		t.Errorf("unknown endpoint answered %d, want 404", code)
	}
	if s.Refused() != 2 || len(s.Deliveries()) != 0 {
		t.Errorf("refused = %d, want 2 (bad token, unknown endpoint); %d deliveries recorded without Record", s.Refused(), len(s.Deliveries()))
	}
}

// With Record, the server applies each transaction ID once, as a real
// homeserver does, and fails on command.
func TestRecordingServerDeduplicatesAndFailsOnCommand(t *testing.T) {
	s := Start(Options{BotUserID: "@walkie:x", Record: true})
	defer s.Close()
	send := func(room, txn string) (int, string) {
		return call(t, s, "PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/"+txn, "as-token", `{"body":"hi"}`)
	}
	if code, _ := send("!r:x", "t1"); code != 503 {
		t.Fatalf("before Accept: %d, want 503", code)
	}
	s.Accept("as-token")
	_, first := send("!r:x", "t1")
	if code, again := send("!r:x", "t1"); code != 200 || again != first {
		t.Errorf("repeated txn: %d %s, want the first answer %s", code, again, first)
	}
	if code, _ := call(t, s, "PUT", "/_matrix/client/v3/rooms/!r:x/state/m.room.topic/", "as-token", `{"topic":"x"}`); code != 200 {
		t.Errorf("state event: %d", code)
	}
	d := s.Deliveries()
	if len(d) != 2 || s.Replays() != 1 || d[0].TxnID != "t1" || d[0].EventType != "m.room.message" ||
		d[1].Kind != matrix.KindState || d[1].EventType != "m.room.topic" || string(d[1].Content) != `{"topic":"x"}` {
		t.Fatalf("deliveries %+v, replays %d", d, s.Replays())
	}

	s.Forbid("!no:x")
	if code, body := send("!no:x", "t2"); code != 403 || !strings.Contains(body, "M_FORBIDDEN") {
		t.Errorf("forbidden room: %d %s", code, body)
	}
	s.Down(true)
	if code, _ := send("!r:x", "t3"); code != 0 {
		t.Errorf("while down: answered %d, want a dropped connection", code)
	}
	s.Down(false)
	if code, _ := send("!r:x", "t3"); code != 200 || len(s.Deliveries()) != 3 || s.Refused() != 3 {
		t.Errorf("after the outage: %d, %d deliveries, %d refused (want 200, 3, 3: not ready, forbidden, dropped)",
			code, len(s.Deliveries()), s.Refused())
	}
}
