package appservice

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrixhttp"
	"github.com/walkie-ptt/walkie/internal/outbox"
	"github.com/walkie-ptt/walkie/internal/store"
)

// registerAdmin adds the admin HTTP API to the appservice listener. It is
// off unless appservice.admin_token is set, and every call needs that
// token in the Authorization header.
func (s *Server) registerAdmin(mux *http.ServeMux) {
	if s.AdminToken == "" {
		return
	}
	admin := func(next http.HandlerFunc) http.HandlerFunc {
		return bearer(s.AdminToken, "admin token", false)(withRoomID(next))
	}
	const prefix = "/_walkie/admin/v1/rooms/{roomId}"
	mux.HandleFunc("GET /_walkie/admin/v1/rooms", bearer(s.AdminToken, "admin token", false)(s.adminRooms))
	mux.HandleFunc("GET "+prefix, admin(s.adminRoom))
	mux.HandleFunc("POST "+prefix+"/release", admin(s.adminRelease))
	mux.HandleFunc("GET "+prefix+"/log", admin(s.adminLog))
	mux.HandleFunc("POST "+prefix+"/outbox/retry", admin(s.adminRetryOutbox))
}

// adminRooms lists the rooms Walkie knows, in room ID order; ?after=
// continues from the last room of the previous page.
func (s *Server) adminRooms(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryInt(w, r, "limit", 100, 1, 1000)
	if !ok {
		return
	}
	after := r.URL.Query().Get("after")
	if after != "" {
		if msg := checkRoomID(after); msg != "" {
			matrixhttp.WriteError(w, http.StatusBadRequest, "M_INVALID_PARAM", "after: "+msg)
			return
		}
	}
	rooms, err := s.Store.Rooms(r.Context(), after, int(limit))
	if err != nil {
		matrixhttp.WriteError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "database unavailable")
		return
	}
	if rooms == nil {
		rooms = []store.RoomSummary{}
	}
	resp := map[string]any{"rooms": rooms}
	if len(rooms) == int(limit) {
		resp["next_after"] = rooms[len(rooms)-1].RoomID
	}
	matrixhttp.WriteJSON(w, http.StatusOK, resp)
}

// adminRetryOutbox sends a room's failed outbox rows again (those the
// homeserver refused, or that kept failing until the sender gave up).
func (s *Server) adminRetryOutbox(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("roomId")
	if _, _, err := s.Store.Room(r.Context(), roomID); !s.adminLookup(w, err) {
		return
	}
	requeued, superseded, err := outbox.RetryFailed(r.Context(), s.Store, roomID)
	if err != nil {
		matrixhttp.WriteError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "database unavailable")
		return
	}
	matrixhttp.WriteJSON(w, http.StatusOK, map[string]any{"requeued": requeued, "superseded": superseded})
}

// withRoomID answers 400 for a path's room ID that cannot be one.
func withRoomID(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if msg := checkRoomID(r.PathValue("roomId")); msg != "" {
			matrixhttp.WriteError(w, http.StatusBadRequest, "M_INVALID_PARAM", msg)
			return
		}
		next(w, r)
	}
}

// checkRoomID explains what is wrong with a room ID from a URL ("" when
// nothing is), before it reaches the database, which cannot store NUL.
func checkRoomID(roomID string) string {
	if !strings.HasPrefix(roomID, "!") {
		return "not a room ID (expected !..., URL-encoded)"
	}
	return checkStorable("room ID", roomID)
}

// roomStatus is the admin view of a room.
type roomStatus struct {
	RoomID       string             `json:"room_id"`
	Joined       bool               `json:"joined"`
	Managed      bool               `json:"managed"`
	Passive      bool               `json:"passive"`
	Floor        floor.FloorState   `json:"floor"`
	Holder       *floor.Holder      `json:"holder,omitempty"`
	Queue        []floor.QueueEntry `json:"queue"`
	Permits      []floor.Permit     `json:"permits"`
	NextDeadline *time.Time         `json:"next_deadline,omitempty"`
	Config       floor.Config       `json:"config"`
}

func (s *Server) adminRoom(w http.ResponseWriter, r *http.Request) {
	room, joined, err := s.Store.Room(r.Context(), r.PathValue("roomId"))
	if !s.adminLookup(w, err) {
		return
	}
	st := roomStatus{RoomID: room.RoomID, Joined: joined, Managed: room.Managed, Passive: room.Passive,
		Floor: room.FloorState(time.Now()), Holder: room.Holder, Queue: room.Queue, Config: room.Config,
		Permits: make([]floor.Permit, 0, len(room.Permits))}
	if st.Queue == nil {
		st.Queue = []floor.QueueEntry{}
	}
	for _, p := range room.Permits {
		st.Permits = append(st.Permits, p)
	}
	if d := room.NextDeadline(); !d.IsZero() {
		st.NextDeadline = &d
	}
	matrixhttp.WriteJSON(w, http.StatusOK, st)
}

// adminRelease releases the turn the operator's call sees, and only that
// one: a deadline that is overdue when the release is decided fires first
// and may hand the floor on, and the next holder's turn is nobody's to end.
func (s *Server) adminRelease(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("roomId")
	room, _, err := s.Store.Room(r.Context(), roomID)
	if !s.adminLookup(w, err) {
		return
	}
	release := floor.AdminRelease{By: "admin API", Term: room.Term}
	if room.Holder != nil {
		release.Holder = room.Holder.Device
	}
	// Only the release: pending events are the room worker's, and one
	// that cannot be decided must not make the release fail.
	out, err := s.Decider.DecideInputs(r.Context(), roomID, release)
	if err != nil {
		matrixhttp.WriteError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "database unavailable")
		return
	}
	released := slices.ContainsFunc(out.Log, func(e floor.LogEntry) bool { return e.Action == floor.LogAdminRelease })
	matrixhttp.WriteJSON(w, http.StatusOK, map[string]any{"released": released, "floor": out.After.FloorState(out.CommittedAt)})
}

func (s *Server) adminLog(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("roomId")
	before, ok := queryInt(w, r, "before", 0, 0, 1<<63-1) // 0: from the newest
	if !ok {
		return
	}
	limit, ok := queryInt(w, r, "limit", 100, 1, 500)
	if !ok {
		return
	}
	rows, err := s.Store.FloorLog(r.Context(), roomID, before, int(limit))
	if err != nil {
		matrixhttp.WriteError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "database unavailable")
		return
	}
	resp := map[string]any{"entries": rows}
	if len(rows) == int(limit) {
		resp["next_before"] = rows[len(rows)-1].ID
	}
	matrixhttp.WriteJSON(w, http.StatusOK, resp)
}

// queryInt reads an optional integer query parameter in [lo, hi]; a bad
// one is answered 400 and ok is false.
func queryInt(w http.ResponseWriter, r *http.Request, name string, dflt, lo, hi int64) (v int64, ok bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return dflt, true
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < lo || v > hi {
		matrixhttp.WriteError(w, http.StatusBadRequest, "M_INVALID_PARAM", fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi))
		return 0, false
	}
	return v, true
}

func (s *Server) adminLookup(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, store.ErrUnknownRoom):
		matrixhttp.WriteError(w, http.StatusNotFound, "M_NOT_FOUND", "Walkie does not know this room")
		return false
	case err != nil:
		matrixhttp.WriteError(w, http.StatusServiceUnavailable, "M_UNKNOWN", "database unavailable")
		return false
	}
	return true
}
