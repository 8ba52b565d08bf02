// Package appservice is Walkie's HTTP face to the homeserver and to admins:
// the Application Service API (transactions, ping, user and room queries),
// the health check and the admin API. Every floor change it asks for goes
// through the decision package.
package appservice

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/walkie-ptt/walkie/internal/matrixhttp"
	"github.com/walkie-ptt/walkie/internal/metrics"
)

// DefaultMaxBodyBytes bounds a transaction body (config appservice.max_body_bytes).
const DefaultMaxBodyBytes = 16 << 20

// registerTransactions adds the Application Service API routes: the v1
// paths and the legacy unprefixed ones older homeservers use.
func (s *Server) registerTransactions(mux *http.ServeMux) {
	hs := bearer(s.HSToken, "hs_token", true)
	for _, prefix := range []string{"/_matrix/app/v1", ""} {
		mux.HandleFunc(prefix+"/transactions/{txnId}", hs(method(http.MethodPut, s.putTransaction)))
		mux.HandleFunc(prefix+"/users/{userId}", hs(method(http.MethodGet, notFound)))
		mux.HandleFunc(prefix+"/rooms/{alias}", hs(method(http.MethodGet, notFound)))
	}
	mux.HandleFunc("/_matrix/app/v1/ping", hs(method(http.MethodPost, ping)))
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	matrixhttp.WriteError(w, http.StatusNotFound, "M_NOT_FOUND", "Walkie has no virtual users or rooms")
}

// ping answers MSC2659 / the spec's appservice ping.
func ping(w http.ResponseWriter, _ *http.Request) {
	matrixhttp.WriteJSON(w, http.StatusOK, struct{}{})
}

type transactionBody struct {
	Events []json.RawMessage `json:"events"`
}

// putTransaction answers 200 only once the events are durable (and, as a
// rule, decided); 5xx makes the homeserver retry later: nothing is lost.
func (s *Server) putTransaction(w http.ResponseWriter, r *http.Request) {
	txnID := r.PathValue("txnId")
	res := metrics.Transaction{}
	defer func() {
		if s.Metrics != nil {
			s.Metrics.ObserveTransaction(res)
		}
	}()
	if msg := checkTxnID(txnID); msg != "" {
		// PostgreSQL would refuse to store it, which would look like an
		// outage: answer what is wrong instead.
		res.Status = http.StatusBadRequest
		matrixhttp.WriteError(w, res.Status, "M_INVALID_PARAM", msg)
		return
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	var body transactionBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(&body); err != nil {
		res.Status = rejectBody(w, err)
		return
	}
	if dec.More() {
		res.Status = http.StatusBadRequest
		matrixhttp.WriteError(w, res.Status, "M_NOT_JSON", "trailing data after the transaction object")
		return
	}
	got, err := s.Decider.Transaction(r.Context(), txnID, body.Events)
	res.Events, res.Rejected = got.Events, got.Rejected
	if err != nil {
		s.Log.Error().Err(err).Str("txn_id", txnID).Msg("Could not store transaction")
		if r.Context().Err() == nil {
			s.DatabaseOutage.Store(true)
		}
		res.Status = http.StatusServiceUnavailable
		matrixhttp.WriteError(w, res.Status, "M_UNKNOWN", "database unavailable, retry later")
		return
	}
	res.Replay, res.Status = got.Replay, http.StatusOK
	matrixhttp.WriteJSON(w, http.StatusOK, struct{}{})
	if len(got.More) > 0 && s.Workers != nil {
		s.Workers.Schedule(got.More...)
	}
}

// checkTxnID explains what is wrong with a transaction ID from the path
// ("" when nothing is).
func checkTxnID(id string) string {
	if id == "" {
		return "empty transaction ID"
	}
	return checkStorable("transaction ID", id)
}

func rejectBody(w http.ResponseWriter, err error) int {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		matrixhttp.WriteError(w, http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "transaction body too large")
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &typeErr):
		matrixhttp.WriteError(w, http.StatusBadRequest, "M_BAD_JSON", "transaction must be an object with an events array: "+err.Error())
	case errors.As(err, &syntax), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		matrixhttp.WriteError(w, http.StatusBadRequest, "M_NOT_JSON", "body is not valid JSON")
	default:
		matrixhttp.WriteError(w, http.StatusBadRequest, "M_NOT_JSON", "body is not valid JSON: "+err.Error())
	}
	return http.StatusBadRequest
}
