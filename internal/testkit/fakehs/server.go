// Package fakehs stands in for a homeserver's client-server API, as far as
// Walkie calls it, and answers at once: versions, whoami, register, join,
// leave, a room's /state as the test set it, and the sends, redactions and
// state events Walkie makes.
//
// A benchmark uses it so its figures are Walkie's and PostgreSQL's, not a
// homeserver's; the fault tests have it record every send, apply each
// transaction ID once as a real homeserver does, and fail on command: an
// outage, or 403 in one room.
package fakehs

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FloorObserver is told about every floor state Walkie publishes, with the
// moment its PUT arrived.
type FloorObserver interface {
	FloorPublished(roomID string, term int64, at time.Time)
}

// Options configure a Server.
type Options struct {
	// BotUserID is whom whoami says the as_token belongs to.
	BotUserID string
	// ASToken is the token Walkie authenticates with. Empty: the server
	// answers 503 until Accept gives it (the token may be known only
	// after `walkie -g`).
	ASToken string
	// Observer, if set, hears of every floor state.
	Observer FloorObserver
	// Record keeps every send, redaction and state event (Deliveries) and
	// applies a repeated transaction ID only once. Without it, sends are
	// answered and forgotten, so a benchmark's memory stays Walkie's.
	Record bool
}

// Server is a running stand-in on a loopback port.
type Server struct {
	opts   Options
	server *httptest.Server

	// inFlight is held (shared) by every request that found the server
	// up, for as long as it is served: Down(true) takes it exclusively, so
	// it returns only once no request admitted before it can still apply.
	inFlight sync.RWMutex

	mu        sync.Mutex
	asToken   string
	state     map[string][]json.RawMessage // room ID → its state events
	down      bool
	forbidden map[string]bool
	byTxn     map[string]string // "kind room txn" → event ID (Record)
	applied   []Delivery        // (Record)
	replays   int

	eventSeq atomic.Int64
	requests atomic.Int64
	refused  atomic.Int64
}

// Start starts a stand-in. Close it when done.
func Start(opts Options) *Server {
	s := &Server{opts: opts, asToken: opts.ASToken, state: map[string][]json.RawMessage{},
		forbidden: map[string]bool{}, byTxn: map[string]string{}}
	s.server = httptest.NewServer(s)
	return s
}

// URL is the homeserver address to configure Walkie with.
func (s *Server) URL() string { return s.server.URL }

// Close stops the server.
func (s *Server) Close() { s.server.Close() }

// Accept sets the as_token Walkie authenticates with.
func (s *Server) Accept(asToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asToken = asToken
}

// SetRoomState is what GET /rooms/{roomID}/state answers from now on:
// Walkie loads it when it joins a room and again at every start.
func (s *Server) SetRoomState(roomID string, events []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state[roomID] = events
}

// DropRoomStates forgets every room's state (GET /state answers [] then).
func (s *Server) DropRoomStates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = map[string][]json.RawMessage{}
}

// Down makes the server unreachable (true: every connection is dropped
// unanswered) or brings it back (false).
//
// Down(true) returns once the requests that were admitted before it have
// been answered: from then on nothing is applied until Down(false).
func (s *Server) Down(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
	if down {
		s.inFlight.Lock()
		//lint:ignore SA2001 an empty critical section: waiting for the requests in flight is the point
		s.inFlight.Unlock()
	}
}

// Forbid makes every send, redaction and state event in roomID fail with
// 403 M_FORBIDDEN, as when the bot lost its power there.
func (s *Server) Forbid(roomID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[roomID] = true
}

// Allow ends Forbid for roomID, as when the homeserver that refused it
// (restarting, or its registration being reloaded) is itself again.
func (s *Server) Allow(roomID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.forbidden, roomID)
}

// Requests is how many calls Walkie made.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Refused counts the calls not served as a healthy homeserver would:
// unknown endpoints, wrong tokens, bodies that are not JSON, calls dropped
// by Down or refused by Forbid. The M_USER_IN_USE answer to register and
// the missing ping endpoint are what homeservers answer, and not counted.
// A clean run without Down or Forbid refuses none.
func (s *Server) Refused() int64 { return s.refused.Load() }

// Deliveries returns a copy of every send applied so far, in arrival
// order (with Record).
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.applied...)
}

// Replays counts sends whose transaction ID had been applied before: each
// is a re-send after a crash or a lost answer, answered and not applied
// (with Record).
func (s *Server) Replays() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replays
}

func (s *Server) nextEventID() string {
	return "$fakehs" + strconv.FormatInt(s.eventSeq.Add(1), 10)
}
