package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/walkie-ptt/walkie/internal/bench"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// Delivery is one request the homeserver applied: a message, a redaction
// or a state event Walkie sent, in the order they arrived.
type Delivery struct {
	RoomID string
	// Kind is matrix.KindMessage, KindRedact or KindState.
	Kind      string
	EventType string // message and state
	StateKey  string // state
	Redacts   string // redact: the event redacted
	// TxnID is the client transaction ID (messages and redactions; state
	// events have none in the client-server API).
	TxnID   string
	Content json.RawMessage
	EventID string // what the homeserver answered
}

// Homeserver stands in for the client-server API Walkie calls. The calls
// that only need an answer (versions, whoami, register, join, /state…) go
// to internal/bench's StandIn; sends, redactions and state events are
// handled here, because the tests need them recorded and deduplicated:
// like a real homeserver, a repeated transaction ID is answered with the
// first event ID and not applied again.
//
// It fails on command: Down makes it unreachable (every connection is
// dropped unanswered), Forbid answers 403 M_FORBIDDEN to every send in one
// room.
type Homeserver struct {
	server *httptest.Server

	mu        sync.Mutex
	asToken   string
	standIn   *bench.StandIn
	down      bool
	forbidden map[string]bool
	byTxn     map[string]string // "kind room txn" → event ID
	applied   []Delivery
	replays   int // repeated txn IDs answered from memory
	refused   int // calls dropped or forbidden
	eventSeq  int
}

// NewHomeserver starts the stand-in on a loopback port; it answers 503 until
// Accept gives it the as_token (known only after `walkie -g`).
func NewHomeserver(t testing.TB) *Homeserver {
	h := &Homeserver{forbidden: map[string]bool{}, byTxn: map[string]string{}}
	h.server = httptest.NewServer(h)
	t.Cleanup(h.server.Close)
	return h
}

// URL is the homeserver.address to configure Walkie with.
func (h *Homeserver) URL() string { return h.server.URL }

// Accept sets the as_token Walkie authenticates with.
func (h *Homeserver) Accept(asToken string) {
	standIn := bench.NewStandIn(BotUserID, asToken, nil)
	// Only its handler is used; its own listener is not needed.
	standIn.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asToken, h.standIn = asToken, standIn
}

// SetRoomState is what GET /rooms/{roomID}/state answers: Walkie loads it
// when it joins a room and again at every start.
func (h *Homeserver) SetRoomState(roomID string, events []json.RawMessage) {
	h.mu.Lock()
	standIn := h.standIn
	h.mu.Unlock()
	standIn.SetRoomState(roomID, events)
}

// Down makes the homeserver unreachable (true) or brings it back (false).
func (h *Homeserver) Down(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

// Forbid makes every send, redaction and state event in roomID fail with
// 403 M_FORBIDDEN, as when the bot lost its power there.
func (h *Homeserver) Forbid(roomID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forbidden[roomID] = true
}

// Deliveries returns a copy of everything applied so far, in arrival order.
func (h *Homeserver) Deliveries() []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.applied...)
}

// Replays counts sends whose transaction ID had been applied before: each
// is a re-send after a crash or a lost answer, answered and not applied.
func (h *Homeserver) Replays() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.replays
}

// Refused counts calls dropped by an outage or answered 403 by Forbid.
func (h *Homeserver) Refused() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused
}

// ServeHTTP implements http.Handler.
func (h *Homeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	down, standIn, asToken := h.down, h.standIn, h.asToken
	if down {
		h.refused++
	}
	h.mu.Unlock()
	if down {
		dropConnection(w)
		return
	}
	if standIn == nil {
		writeMatrixError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "not ready")
		return
	}
	d, ok := parseSend(r)
	if !ok {
		standIn.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+asToken {
		writeMatrixError(w, http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "unknown as_token")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		writeMatrixError(w, http.StatusBadRequest, "M_NOT_JSON", "body is not JSON")
		return
	}
	d.Content = body
	status, eventID := h.apply(d)
	if status != http.StatusOK {
		writeMatrixError(w, status, "M_FORBIDDEN", "the bot may not send in this room")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"event_id": eventID})
}

// apply records d once per transaction ID and returns the answer.
func (h *Homeserver) apply(d Delivery) (status int, eventID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.forbidden[d.RoomID] {
		h.refused++
		return http.StatusForbidden, ""
	}
	key := ""
	if d.TxnID != "" {
		key = d.Kind + " " + d.RoomID + " " + d.TxnID
		if id, seen := h.byTxn[key]; seen {
			h.replays++
			return http.StatusOK, id
		}
	}
	h.eventSeq++
	d.EventID = "$hs" + strconv.Itoa(h.eventSeq)
	if key != "" {
		h.byTxn[key] = d.EventID
	}
	h.applied = append(h.applied, d)
	return http.StatusOK, d.EventID
}

// parseSend recognises PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn},
// …/redact/{event}/{txn} and …/state/{type}/{key}.
func parseSend(r *http.Request) (Delivery, bool) {
	if r.Method != http.MethodPut {
		return Delivery{}, false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/_matrix/client/v3/rooms/")
	if !ok {
		return Delivery{}, false
	}
	seg := strings.Split(rest, "/")
	if len(seg) < 3 {
		return Delivery{}, false
	}
	d := Delivery{RoomID: seg[0]}
	switch {
	case seg[1] == "send" && len(seg) == 4:
		d.Kind, d.EventType, d.TxnID = matrix.KindMessage, seg[2], seg[3]
	case seg[1] == "redact" && len(seg) == 4:
		d.Kind, d.Redacts, d.TxnID = matrix.KindRedact, seg[2], seg[3]
	case seg[1] == "state":
		d.Kind, d.EventType, d.StateKey = matrix.KindState, seg[2], strings.Join(seg[3:], "/")
	default:
		return Delivery{}, false
	}
	return d, true
}

// dropConnection closes the connection without an answer: to the client
// it looks like a homeserver that is not there.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeMatrixError(w, http.StatusBadGateway, "M_UNKNOWN", "homeserver unreachable")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

func writeMatrixError(w http.ResponseWriter, status int, errcode, msg string) {
	writeJSON(w, status, map[string]string{"errcode": errcode, "error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
