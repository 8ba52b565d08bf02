package homeserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// homeserverStandIn answers what Connect asks, as a homeserver named
// domain whose registration has the as_token token does.
func homeserverStandIn(t *testing.T, domain, token string, pings *atomic.Int32) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fail := func(code int, errcode string) {
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"errcode": errcode, "error": "stand-in"})
		}
		if r.URL.Path == "/_matrix/client/versions" {
			_, _ = w.Write([]byte(`{"versions":["v1.11"]}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			fail(http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
			return
		}
		if u := r.URL.Query().Get("user_id"); u != "" && !strings.HasSuffix(u, ":"+domain) {
			fail(http.StatusForbidden, "M_FORBIDDEN")
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/account/whoami"):
			_, _ = w.Write([]byte(`{"user_id":"@walkie:` + domain + `"}`))
		case strings.HasSuffix(r.URL.Path, "/register"):
			fail(http.StatusBadRequest, "M_USER_IN_USE")
		case strings.HasSuffix(r.URL.Path, "/ping"):
			pings.Add(1)
			_, _ = w.Write([]byte(`{"duration_ms":1}`))
		default:
			fail(http.StatusNotFound, "M_UNRECOGNIZED")
		}
	}))
	t.Cleanup(hs.Close)
	return hs
}

// A wrong as_token and a wrong homeserver.domain fail differently, and
// each error names the key at fault.
func TestConnectTellsTheTokenAndTheDomainApart(t *testing.T) {
	var pings atomic.Int32
	hs := homeserverStandIn(t, "real.test", "good", &pings)
	for _, tc := range []struct {
		name, user, token string
		want              []string // in the error; none: Connect succeeds
	}{
		{"wrong token", "@walkie:real.test", "bad", []string{"appservice.as_token", "register"}},
		{"wrong domain", "@walkie:wrong.test", "good", []string{`homeserver.domain is "wrong.test"`, `"real.test"`}},
		{"all right", "@walkie:real.test", "good", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, err := NewClient(hs.URL, tc.user, tc.token, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = Connect(ctx, client, "walkie", "", zerolog.Nop())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.name == "wrong domain" && strings.Contains(err.Error(), "does not accept appservice.as_token") {
				t.Errorf("a wrong domain is blamed on the token: %v", err)
			}
		})
	}
}
