package fakehs

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/matrixhttp"
)

// ServeHTTP routes the client-server API calls Walkie makes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	s.requests.Add(1)
	s.inFlight.RLock()
	defer s.inFlight.RUnlock()
	s.mu.Lock()
	down, asToken := s.down, s.asToken
	s.mu.Unlock()
	if down {
		s.refused.Add(1)
		dropConnection(w)
		return
	}
	// Read the body before answering, so keep-alive connections stay reusable.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "M_NOT_JSON", "unreadable body")
		return
	}
	if asToken == "" {
		s.fail(w, http.StatusServiceUnavailable, "M_UNKNOWN", "not ready: no as_token yet")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/_matrix/client/")
	if !ok {
		s.fail(w, http.StatusNotFound, "M_UNRECOGNIZED", "not a client-server path")
		return
	}
	if path == "versions" && r.Method == http.MethodGet {
		matrixhttp.WriteJSON(w, http.StatusOK, map[string]any{"versions": []string{"v1.11"}})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+asToken {
		s.fail(w, http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "unknown as_token")
		return
	}
	seg := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodPost && path == "v3/register":
		// What Synapse answers when the appservice's sender already exists.
		matrixhttp.WriteError(w, http.StatusBadRequest, "M_USER_IN_USE", "user exists")
	case r.Method == http.MethodGet && path == "v3/account/whoami":
		matrixhttp.WriteJSON(w, http.StatusOK, map[string]any{"user_id": s.opts.BotUserID})
	case r.Method == http.MethodPost && len(seg) == 4 && seg[1] == "appservice" && seg[3] == "ping":
		// Like Dendrite: no ping endpoint.
		matrixhttp.WriteError(w, http.StatusNotFound, "M_UNRECOGNIZED", "no ping")
	case r.Method == http.MethodPut && len(seg) == 4 && seg[1] == "profile" && seg[3] == "displayname":
		matrixhttp.WriteJSON(w, http.StatusOK, struct{}{})
	case len(seg) >= 4 && seg[0] == "v3" && seg[1] == "rooms":
		s.room(w, r.Method, seg[2], seg[3:], body, arrived)
	default:
		s.fail(w, http.StatusNotFound, "M_UNRECOGNIZED", "the stand-in does not know "+r.Method+" "+path)
	}
}

// room answers /rooms/{roomID}/... calls; rest starts after the room ID.
func (s *Server) room(w http.ResponseWriter, method, roomID string, rest []string, body []byte, arrived time.Time) {
	switch {
	case method == http.MethodPost && rest[0] == "join":
		matrixhttp.WriteJSON(w, http.StatusOK, map[string]any{"room_id": roomID})
	case method == http.MethodPost && rest[0] == "leave":
		matrixhttp.WriteJSON(w, http.StatusOK, struct{}{})
	case method == http.MethodGet && rest[0] == "state" && len(rest) == 1:
		s.mu.Lock()
		events := s.state[roomID]
		s.mu.Unlock()
		if events == nil {
			events = []json.RawMessage{}
		}
		matrixhttp.WriteJSON(w, http.StatusOK, events)
	case method == http.MethodPut && rest[0] == "state" && len(rest) >= 2:
		s.send(w, Delivery{RoomID: roomID, Kind: matrix.KindState, EventType: rest[1], StateKey: strings.Join(rest[2:], "/")}, body, arrived)
	case method == http.MethodPut && rest[0] == "send" && len(rest) == 3:
		s.send(w, Delivery{RoomID: roomID, Kind: matrix.KindMessage, EventType: rest[1], TxnID: rest[2]}, body, arrived)
	case method == http.MethodPut && rest[0] == "redact" && len(rest) == 3:
		s.send(w, Delivery{RoomID: roomID, Kind: matrix.KindRedact, Redacts: rest[1], TxnID: rest[2]}, body, arrived)
	default:
		s.fail(w, http.StatusNotFound, "M_UNRECOGNIZED", "the stand-in does not know "+method+" rooms/…/"+strings.Join(rest, "/"))
	}
}

// fail answers with an error a healthy homeserver would not give Walkie.
func (s *Server) fail(w http.ResponseWriter, status int, errcode, msg string) {
	s.refused.Add(1)
	matrixhttp.WriteError(w, status, errcode, msg)
}

// dropConnection closes the connection without an answer: to the client
// it looks like a homeserver that is not there.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		matrixhttp.WriteError(w, http.StatusBadGateway, "M_UNKNOWN", "homeserver unreachable")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}
