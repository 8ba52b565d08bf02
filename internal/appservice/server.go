package appservice

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/matrixhttp"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Workers take rooms whose pending events are left for later (the room
// workers of the running service).
type Workers interface {
	Schedule(rooms ...string)
}

// Server is the appservice listener's handler.
type Server struct {
	HSToken string
	// AdminToken enables the admin API; "" leaves it off.
	AdminToken   string
	MaxBodyBytes int64
	Decider      *decide.Decider
	// Store serves the admin API's read-only views.
	Store   *store.Store
	Workers Workers
	Metrics *metrics.Metrics // may be nil
	// Ready is set once start-up checks passed; health answers 503 before.
	Ready *atomic.Bool
	Log   zerolog.Logger

	// DatabaseOutage is set when a transaction was refused because the
	// database did not answer. The homeserver then backs off (Synapse up to
	// 512 s between tries); the service clears it once the database is
	// back and it has pinged the homeserver.
	DatabaseOutage atomic.Bool
}

// Handler routes every path of the listener.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.registerTransactions(mux)
	mux.HandleFunc("GET /_walkie/health", s.health)
	s.registerAdmin(mux)
	return mux
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	if s.Ready == nil || !s.Ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// bearer checks a token in the Authorization header in constant time
// before anything else happens; with fromQuery, a request without the
// header may carry it as the access_token query parameter (older
// homeservers do). what names the token in errors.
func bearer(want, what string, fromQuery bool) func(http.HandlerFunc) http.HandlerFunc {
	return func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			token, ok := strings.CutPrefix(auth, "Bearer ")
			switch {
			case auth == "" && fromQuery:
				token = r.URL.Query().Get("access_token")
			case !ok && !fromQuery:
				token = ""
			}
			if token == "" {
				matrixhttp.WriteError(w, http.StatusUnauthorized, "M_UNAUTHORIZED", "missing "+what)
				return
			}
			if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
				matrixhttp.WriteError(w, http.StatusForbidden, "M_FORBIDDEN", "invalid "+what)
				return
			}
			next(w, r)
		}
	}
}

// method answers 405 to any other method than m.
func method(m string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m {
			w.Header().Set("Allow", m)
			matrixhttp.WriteError(w, http.StatusMethodNotAllowed, "M_UNRECOGNIZED", "method not allowed")
			return
		}
		next(w, r)
	}
}

// checkStorable explains why an identifier from a URL path cannot be
// stored ("" when it can): PostgreSQL refuses NUL and invalid UTF-8, and
// Matrix identifiers are at most 255 bytes. what names it in the answer.
func checkStorable(what, id string) string {
	switch {
	case len(id) > 255:
		return what + " longer than 255 bytes"
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return what + " is not valid UTF-8 or contains NUL"
	}
	return ""
}
