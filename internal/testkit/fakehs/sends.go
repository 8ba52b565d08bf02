package fakehs

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/matrixhttp"
)

// Delivery is one send the server applied: a message, a redaction or a
// state event Walkie sent.
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
	EventID string // what the server answered
}

// send answers a send, redaction or state event (d without its content).
func (s *Server) send(w http.ResponseWriter, d Delivery, body []byte, arrived time.Time) {
	if !json.Valid(body) {
		s.fail(w, http.StatusBadRequest, "M_NOT_JSON", "body is not JSON")
		return
	}
	d.Content = body
	floorState := d.Kind == matrix.KindState && d.EventType == floor.TypeFloor
	var fs struct {
		Term int64 `json:"term"`
	}
	if floorState && json.Unmarshal(body, &fs) != nil {
		s.fail(w, http.StatusBadRequest, "M_BAD_JSON", "floor state without a numeric term")
		return
	}
	eventID, ok := s.apply(d)
	if !ok {
		matrixhttp.WriteError(w, http.StatusForbidden, "M_FORBIDDEN", "the bot may not send in this room")
		return
	}
	if floorState && s.opts.Observer != nil {
		s.opts.Observer.FloorPublished(d.RoomID, fs.Term, arrived)
	}
	matrixhttp.WriteJSON(w, http.StatusOK, map[string]string{"event_id": eventID})
}

// apply records d, once per transaction ID, and returns the event ID to
// answer; false when the room is forbidden.
func (s *Server) apply(d Delivery) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forbidden[d.RoomID] {
		s.refused.Add(1)
		return "", false
	}
	if !s.opts.Record {
		return s.nextEventID(), true
	}
	key := ""
	if d.TxnID != "" {
		key = d.Kind + " " + d.RoomID + " " + d.TxnID
		if id, seen := s.byTxn[key]; seen {
			s.replays++
			return id, true
		}
	}
	d.EventID = s.nextEventID()
	if key != "" {
		s.byTxn[key] = d.EventID
	}
	s.applied = append(s.applied, d)
	return d.EventID, true
}
