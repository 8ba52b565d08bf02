package appservice_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/appservice"
	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const hsToken = "hs-secret"

// recorder records the rooms handed to the room workers.
type recorder []string

func (r *recorder) Schedule(rooms ...string) { *r = append(*r, rooms...) }

type noPermissions struct{}

func (noPermissions) PermissionLevel(string) config.Level { return config.LevelBlock }

func newServer(t *testing.T) (*httptest.Server, *store.Store, *recorder) {
	ts, st, woken, _ := newServerWith(t)
	return ts, st, woken
}

func newServerWith(t *testing.T) (*httptest.Server, *store.Store, *recorder, *appservice.Server) {
	t.Helper()
	st := pgtest.NewStore(t, store.Options{Controller: "@walkie:test"})
	woken := &recorder{}
	d := decide.New(decide.Options{Store: st, Controller: "@walkie:test", Permissions: noPermissions{}, Log: zerolog.Nop()})
	srv := &appservice.Server{HSToken: hsToken, MaxBodyBytes: 64 << 10, Decider: d, Store: st, Workers: woken, Log: zerolog.Nop()}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, st, woken, srv
}

const oneEvent = `{"events":[{"type":"m.room.message","event_id":"$1","room_id":"!r:test","sender":"@a:test","content":{"body":"x"}}]}`

func TestTransactionEndpointRejectsBadInputAndChangesNothing(t *testing.T) {
	// Deeper than encoding/json's nesting limit, yet under the size limit.
	deep := `{"events":` + strings.Repeat("[", 12000) + strings.Repeat("]", 12000) + `}`
	cases := []struct {
		name, method, path, auth, body string
		status                         int
		errcode                        string
	}{
		{"no token", "PUT", "/_matrix/app/v1/transactions/t1", "", oneEvent, 401, "M_UNAUTHORIZED"},
		{"wrong token", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer nope", oneEvent, 403, "M_FORBIDDEN"},
		{"wrong token in query", "PUT", "/_matrix/app/v1/transactions/t1?access_token=nope", "", oneEvent, 403, "M_FORBIDDEN"},
		{"wrong method", "POST", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, oneEvent, 405, "M_UNRECOGNIZED"},
		{"huge body", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, `{"events":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "M_TOO_LARGE"},
		{"truncated JSON", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, oneEvent[:40], 400, "M_NOT_JSON"},
		{"not JSON", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, "hello", 400, "M_NOT_JSON"},
		{"array instead of object", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, `[1,2]`, 400, "M_BAD_JSON"},
		{"events not an array", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, `{"events":{}}`, 400, "M_BAD_JSON"},
		{"trailing data", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, `{"events":[]} {}`, 400, "M_NOT_JSON"},
		{"deep nesting", "PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, deep, 400, "M_NOT_JSON"},
		{"user query", "GET", "/_matrix/app/v1/users/@x:test", "Bearer " + hsToken, "", 404, "M_NOT_FOUND"},
		{"room alias query", "GET", "/_matrix/app/v1/rooms/%23x:test", "Bearer " + hsToken, "", 404, "M_NOT_FOUND"},
		{"user query unauthenticated", "GET", "/_matrix/app/v1/users/@x:test", "", "", 401, "M_UNAUTHORIZED"},
		{"NUL in the transaction ID", "PUT", "/_matrix/app/v1/transactions/t%00", "Bearer " + hsToken, oneEvent, 400, "M_INVALID_PARAM"},
		{"transaction ID not UTF-8", "PUT", "/_matrix/app/v1/transactions/t%ff", "Bearer " + hsToken, oneEvent, 400, "M_INVALID_PARAM"},
		{"transaction ID too long", "PUT", "/_matrix/app/v1/transactions/" + strings.Repeat("t", 300), "Bearer " + hsToken, oneEvent, 400, "M_INVALID_PARAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, st, woken := newServer(t)
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.errcode) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.errcode)
			}
			var txns, inbox int
			_ = st.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM as_transaction), (SELECT count(*) FROM inbox)`).Scan(&txns, &inbox)
			if txns != 0 || inbox != 0 || len(*woken) != 0 {
				t.Fatalf("bad input changed something: %d transactions, %d events, woke %v", txns, inbox, *woken)
			}
		})
	}
}

// TestErrorsAreMatrixErrorsToTheByte: the status, Content-Type and body
// homeservers get, exactly (the keys in this order, a trailing newline).
func TestErrorsAreMatrixErrorsToTheByte(t *testing.T) {
	_, _, _, srv := newServerWith(t)
	h := srv.Handler()
	for _, c := range []struct {
		method, path, auth string
		status             int
		body               string
	}{
		{"GET", "/_matrix/app/v1/users/@x:test", "", 401, `{"errcode":"M_UNAUTHORIZED","error":"missing hs_token"}`},
		{"GET", "/_matrix/app/v1/users/@x:test", "Bearer nope", 403, `{"errcode":"M_FORBIDDEN","error":"invalid hs_token"}`},
		{"GET", "/_matrix/app/v1/users/@x:test", "Bearer " + hsToken, 404, `{"errcode":"M_NOT_FOUND","error":"Walkie has no virtual users or rooms"}`},
		{"POST", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, 405, `{"errcode":"M_UNRECOGNIZED","error":"method not allowed"}`},
		{"PUT", "/_matrix/app/v1/transactions/t1", "Bearer " + hsToken, 400, `{"errcode":"M_NOT_JSON","error":"body is not valid JSON"}`},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader("hello"))
		req.Header.Set("Authorization", c.auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Body.String(); rec.Code != c.status || rec.Header().Get("Content-Type") != "application/json" || got != c.body+"\n" {
			t.Errorf("%s %s: %d %q %q, want %d application/json %q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), got, c.status, c.body+"\n")
		}
	}
}

func TestTransactionStoredBeforeAckAndReplayIgnored(t *testing.T) {
	ts, st, woken := newServer(t)
	put := func(path, body string) int {
		req, _ := http.NewRequest("PUT", ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+hsToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put("/_matrix/app/v1/transactions/t1", oneEvent); code != 200 {
		t.Fatalf("status %d", code)
	}
	var inbox, decided int
	count := func() {
		_ = st.Pool().QueryRow(t.Context(), `SELECT count(*), count(processed_at) FROM inbox`).Scan(&inbox, &decided)
	}
	count()
	if inbox != 1 || decided != 1 || len(*woken) != 0 {
		t.Fatalf("after 200 the event must be in the inbox and decided: %d rows, %d decided, left to workers %v", inbox, decided, *woken)
	}
	// Replay on the legacy path, with the legacy query token.
	if code := put("/transactions/t1?access_token="+hsToken, oneEvent); code != 200 {
		t.Fatalf("replay status %d", code)
	}
	// A transaction mixing a malformed event with a good one stores the good one.
	mixed := `{"events":[{"type":"x"},` + strings.TrimPrefix(strings.Replace(oneEvent, `"$1"`, `"$2"`, 1), `{"events":[`)
	if code := put("/_matrix/app/v1/transactions/t2", mixed); code != 200 {
		t.Fatalf("mixed status %d", code)
	}
	count()
	if inbox != 2 || decided != 2 || len(*woken) != 0 {
		t.Fatalf("want 2 inbox rows, both decided, got %d rows, %d decided, left to workers %v", inbox, decided, *woken)
	}
}

func TestTransactionAnswers503WhenDatabaseIsGone(t *testing.T) {
	ts, st, _, srv := newServerWith(t)
	st.Close()
	req, _ := http.NewRequest("PUT", ts.URL+"/_matrix/app/v1/transactions/t9", strings.NewReader(oneEvent))
	req.Header.Set("Authorization", "Bearer "+hsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 so the homeserver retries", resp.StatusCode)
	}
	if !srv.DatabaseOutage.Load() {
		t.Fatal("a transaction refused for want of the database must flag the outage, so the homeserver is pinged later")
	}
}

func TestPing(t *testing.T) {
	ts, _, _ := newServer(t)
	req, _ := http.NewRequest("POST", ts.URL+"/_matrix/app/v1/ping", strings.NewReader(`{"transaction_id":"x"}`))
	req.Header.Set("Authorization", "Bearer "+hsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "{}" {
		t.Fatalf("ping: %d %s", resp.StatusCode, body)
	}
}
