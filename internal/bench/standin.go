package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// FloorObserver is told about every floor state Walkie publishes, with the
// moment its PUT reached the stand-in.
type FloorObserver interface {
	FloorPublished(roomID string, term int64, at time.Time)
}

// StandIn plays the homeserver for the client-server calls Walkie makes,
// answering each at once, so a benchmark measures Walkie and PostgreSQL
// rather than a homeserver. It serves the room state the load generator
// registered (Walkie loads it with GET /state when it joins) and reports
// each floor-state PUT to its observer.
type StandIn struct {
	botUserID string
	asToken   string
	observer  FloorObserver
	server    *httptest.Server

	mu    sync.RWMutex
	state map[string][]json.RawMessage // room ID → its state events

	eventSeq atomic.Int64
	requests atomic.Int64
	refused  atomic.Int64
}

// NewStandIn starts a stand-in on a loopback port. Close it when done.
func NewStandIn(botUserID, asToken string, observer FloorObserver) *StandIn {
	s := &StandIn{botUserID: botUserID, asToken: asToken, observer: observer, state: map[string][]json.RawMessage{}}
	s.server = httptest.NewServer(s)
	return s
}

// URL is the homeserver address to configure Walkie with.
func (s *StandIn) URL() string { return s.server.URL }

// Close stops the server.
func (s *StandIn) Close() { s.server.Close() }

// DropRoomStates forgets every room's state (GET /state answers [] then).
func (s *StandIn) DropRoomStates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = map[string][]json.RawMessage{}
}

// SetRoomState is what GET /rooms/{roomID}/state answers from now on.
func (s *StandIn) SetRoomState(roomID string, events []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state[roomID] = events
}

// Requests is how many calls Walkie made; Refused how many of them the
// stand-in could not answer (unknown endpoint or bad token). A clean run
// refuses none.
func (s *StandIn) Requests() int64 { return s.requests.Load() }

// Refused counts calls answered with an error other than the expected
// M_USER_IN_USE and ping 404.
func (s *StandIn) Refused() int64 { return s.refused.Load() }

// ServeHTTP routes the client-server API calls Walkie makes.
func (s *StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	s.requests.Add(1)
	// Read the body before answering, so keep-alive connections stay reusable.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "M_NOT_JSON", "unreadable body")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/_matrix/client/")
	if !ok {
		s.fail(w, http.StatusNotFound, "M_UNRECOGNIZED", "not a client-server path")
		return
	}
	if path == "versions" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]any{"versions": []string{"v1.11"}})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.asToken {
		s.fail(w, http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "unknown as_token")
		return
	}
	seg := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodPost && path == "v3/register":
		// What Synapse answers when the appservice's sender already exists.
		writeJSON(w, http.StatusBadRequest, matrixError("M_USER_IN_USE", "user exists"))
	case r.Method == http.MethodGet && path == "v3/account/whoami":
		writeJSON(w, http.StatusOK, map[string]any{"user_id": s.botUserID})
	case r.Method == http.MethodPost && len(seg) == 4 && seg[1] == "appservice" && seg[3] == "ping":
		// Like Dendrite: no ping endpoint.
		writeJSON(w, http.StatusNotFound, matrixError("M_UNRECOGNIZED", "no ping"))
	case r.Method == http.MethodPut && len(seg) == 4 && seg[1] == "profile" && seg[3] == "displayname":
		writeJSON(w, http.StatusOK, struct{}{})
	case len(seg) >= 4 && seg[0] == "v3" && seg[1] == "rooms":
		s.room(w, r.Method, seg[2], seg[3:], body, arrived)
	default:
		s.fail(w, http.StatusNotFound, "M_UNRECOGNIZED", "the stand-in does not know "+r.Method+" "+path)
	}
}

// room answers /rooms/{roomID}/... calls; rest starts after the room ID.
func (s *StandIn) room(w http.ResponseWriter, method, roomID string, rest []string, body []byte, arrived time.Time) {
	switch {
	case method == http.MethodPost && rest[0] == "join":
		writeJSON(w, http.StatusOK, map[string]any{"room_id": roomID})
	case method == http.MethodPost && rest[0] == "leave":
		writeJSON(w, http.StatusOK, struct{}{})
	case method == http.MethodGet && rest[0] == "state" && len(rest) == 1:
		s.mu.RLock()
		events := s.state[roomID]
		s.mu.RUnlock()
		if events == nil {
			events = []json.RawMessage{}
		}
		writeJSON(w, http.StatusOK, events)
	case method == http.MethodPut && rest[0] == "state" && len(rest) >= 2:
		if rest[1] == floor.TypeFloor {
			var fs struct {
				Term int64 `json:"term"`
			}
			if err := json.Unmarshal(body, &fs); err != nil {
				s.fail(w, http.StatusBadRequest, "M_NOT_JSON", "floor state is not JSON")
				return
			}
			if s.observer != nil {
				s.observer.FloorPublished(roomID, fs.Term, arrived)
			}
		}
		s.sent(w)
	case method == http.MethodPut && (rest[0] == "send" || rest[0] == "redact") && len(rest) == 3:
		s.sent(w)
	default:
		s.fail(w, http.StatusNotFound, "M_UNRECOGNIZED", "the stand-in does not know "+method+" rooms/…/"+strings.Join(rest, "/"))
	}
}

// sent answers a send with a fresh event ID.
func (s *StandIn) sent(w http.ResponseWriter) {
	id := "$standin" + strconv.FormatInt(s.eventSeq.Add(1), 10)
	writeJSON(w, http.StatusOK, map[string]string{"event_id": id})
}

func (s *StandIn) fail(w http.ResponseWriter, status int, errcode, msg string) {
	s.refused.Add(1)
	writeJSON(w, status, matrixError(errcode, msg))
}

func matrixError(errcode, msg string) map[string]string {
	return map[string]string{"errcode": errcode, "error": msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
