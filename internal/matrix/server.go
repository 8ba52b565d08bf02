package matrix

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/store"
)

// DefaultMaxBodyBytes bounds a transaction body (config appservice.max_body_bytes).
const DefaultMaxBodyBytes = 16 << 20

// TransactionStore makes transactions durable.
type TransactionStore interface {
	SaveTransaction(ctx context.Context, txnID string, events []store.InboxEvent) (replay bool, rooms []string, err error)
}

// Server is the appservice side of the Application Service API: the
// homeserver pushes transactions here.
type Server struct {
	HSToken      string
	MaxBodyBytes int64
	Store        TransactionStore
	// Wake is called with the rooms that got new events, after commit.
	Wake func(rooms []string)
	// Observe is told about every transaction (for metrics); may be nil.
	Observe func(TransactionResult)
	Log     zerolog.Logger
}

// TransactionResult describes one handled transaction.
type TransactionResult struct {
	Status   int
	Replay   bool
	Events   int
	Rejected int // events skipped as malformed
}

// Register adds the Application Service API routes to mux: the v1 paths and
// the legacy unprefixed ones older homeservers use.
func (s *Server) Register(mux *http.ServeMux) {
	for _, prefix := range []string{"/_matrix/app/v1", ""} {
		mux.HandleFunc(prefix+"/transactions/{txnId}", s.authenticated(s.putTransaction, http.MethodPut))
		mux.HandleFunc(prefix+"/users/{userId}", s.authenticated(s.notFound, http.MethodGet))
		mux.HandleFunc(prefix+"/rooms/{alias}", s.authenticated(s.notFound, http.MethodGet))
	}
	mux.HandleFunc("/_matrix/app/v1/ping", s.authenticated(s.ping, http.MethodPost))
}

// authenticated checks the method and the hs_token (Authorization header,
// or the access_token query parameter older homeservers send) in constant
// time before anything else happens.
func (s *Server) authenticated(next http.HandlerFunc, method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if auth := r.Header.Get("Authorization"); auth != "" {
			token, _ = strings.CutPrefix(auth, "Bearer ")
		} else {
			token = r.URL.Query().Get("access_token")
		}
		if token == "" {
			writeError(w, http.StatusUnauthorized, "M_UNAUTHORIZED", "missing hs_token")
			return
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(s.HSToken)) != 1 {
			writeError(w, http.StatusForbidden, "M_FORBIDDEN", "invalid hs_token")
			return
		}
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "M_UNRECOGNIZED", "method not allowed")
			return
		}
		next(w, r)
	}
}

func (s *Server) notFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "M_NOT_FOUND", "Walkie has no virtual users or rooms")
}

// ping answers MSC2659 / the spec's appservice ping.
func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct{}{})
}

type transactionBody struct {
	Events []json.RawMessage `json:"events"`
}

func (s *Server) putTransaction(w http.ResponseWriter, r *http.Request) {
	txnID := r.PathValue("txnId")
	res := TransactionResult{}
	defer func() {
		if s.Observe != nil {
			s.Observe(res)
		}
	}()
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	var body transactionBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(&body); err != nil {
		res.Status = s.rejectBody(w, err)
		return
	}
	if dec.More() {
		res.Status = http.StatusBadRequest
		writeError(w, res.Status, "M_NOT_JSON", "trailing data after the transaction object")
		return
	}
	events := make([]store.InboxEvent, 0, len(body.Events))
	for _, raw := range body.Events {
		raw = validUTF8(raw)
		env, err := ParseEnvelope(raw)
		if err != nil {
			// One broken event must not make the homeserver retry the
			// whole transaction forever: skip it, loudly.
			res.Rejected++
			s.Log.Warn().Err(err).Str("txn_id", txnID).Msg("Skipping malformed event in transaction")
			continue
		}
		events = append(events, store.InboxEvent{EventID: env.EventID, RoomID: env.RoomID, Raw: raw})
	}
	res.Events = len(events)
	replay, rooms, err := s.Store.SaveTransaction(r.Context(), txnID, events)
	if err != nil {
		// 5xx makes the homeserver retry later: nothing is lost.
		s.Log.Error().Err(err).Str("txn_id", txnID).Msg("Could not store transaction")
		res.Status = http.StatusServiceUnavailable
		writeError(w, res.Status, "M_UNKNOWN", "database unavailable, retry later")
		return
	}
	res.Replay, res.Status = replay, http.StatusOK
	writeJSON(w, http.StatusOK, struct{}{})
	if len(rooms) > 0 && s.Wake != nil {
		s.Wake(rooms)
	}
}

func (s *Server) rejectBody(w http.ResponseWriter, err error) int {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "transaction body too large")
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, "M_BAD_JSON", "transaction must be an object with an events array: "+err.Error())
	case errors.As(err, &syntax), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, "M_NOT_JSON", "body is not valid JSON")
	default:
		writeError(w, http.StatusBadRequest, "M_NOT_JSON", "body is not valid JSON: "+err.Error())
	}
	return http.StatusBadRequest
}

func writeError(w http.ResponseWriter, status int, errcode, msg string) {
	writeJSON(w, status, map[string]string{"errcode": errcode, "error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
