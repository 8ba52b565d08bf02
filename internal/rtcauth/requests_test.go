package rtcauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/openid"
)

// mustNotVerify fails the test if a request gets as far as the OpenID
// check: the requests here are refused before anything is asked.
type mustNotVerify struct{ t *testing.T }

func (m mustNotVerify) Verify(context.Context, openid.Token) (string, error) {
	m.t.Error("a malformed request reached the OpenID check")
	return "", openid.ErrRejected
}

func (m mustNotVerify) CheckLive(context.Context, string, string) error {
	m.t.Error("a malformed request reached the room check")
	return ErrNotJoined
}

// post sends body to path on a test server and returns the status and
// the decoded answer.
func post(t *testing.T, srv *httptest.Server, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: the answer is not JSON: %v", path, err)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("%s: Access-Control-Allow-Origin %q, want *", path, got)
	}
	return resp.StatusCode, out
}

func testServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(opts).Mount(mux, "/livekit")
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const token = `"openid_token":{"access_token":"abc","token_type":"Bearer","matrix_server_name":"example.org","expires_in":3600}`

func TestMalformedRequestsRefusedBeforeAnyCheck(t *testing.T) {
	srv := testServer(t, Options{
		URL: "ws://lk", Verifier: mustNotVerify{t}, Access: mustNotVerify{t},
		Minter: livekit.NewMinter("k", strings.Repeat("s", 32), time.Hour), Log: zerolog.Nop(),
	})
	member := `"member":{"id":"m1","claimed_user_id":"@a:example.org","claimed_device_id":"D"}`
	for _, c := range []struct{ path, body, errcode string }{
		{"/livekit/get_token", `not json`, "M_NOT_JSON"},
		{"/livekit/get_token", `["room_id"]`, "M_NOT_JSON"},
		{"/livekit/get_token", `{"room_id":"!r:example.org",` + token + `,` + member + `}`, "M_BAD_JSON"},
		{"/livekit/get_token", `{"room_id":"!r:example.org","slot_id":"m.call#ROOM",` + token + `}`, "M_BAD_JSON"},
		{"/livekit/get_token", `{"room_id":"!r:example.org","slot_id":"m.call#ROOM",` + member + `}`, "M_BAD_JSON"},
		{"/livekit/get_token", `{"room_id":"!r:example.org","slot_id":"m.call#other",` + token + `,` + member + `}`, "M_INVALID_PARAM"},
		{"/livekit/get_token", `{"room_id":"#alias:example.org","slot_id":"m.call#ROOM",` + token + `,` + member + `}`, "M_INVALID_PARAM"},
		{"/livekit/sfu/get", `{"room":"!r:example.org",` + token + `}`, "M_BAD_JSON"},
		{"/livekit/sfu/get", `{"room":"!r:example.org","device_id":"A B",` + token + `}`, "M_INVALID_PARAM"},
		{"/livekit/sfu/get", `{"room":"!r:example.org","device_id":"` + strings.Repeat("D", 300) + `",` + token + `}`, "M_INVALID_PARAM"},
		{"/livekit/sfu/get", `{"room":"r","device_id":"D",` + token + `}`, "M_INVALID_PARAM"},
	} {
		status, out := post(t, srv, c.path, c.body)
		if status != http.StatusBadRequest || out["errcode"] != c.errcode || out["error"] == "" {
			t.Errorf("%s %s: %d %v, want 400 %s with a message", c.path, c.body, status, out, c.errcode)
		}
	}
}

// TestErrorsAreMatrixErrorsToTheByte: the status, Content-Type and body
// clients get, exactly (the keys in this order, a trailing newline).
func TestErrorsAreMatrixErrorsToTheByte(t *testing.T) {
	mux := http.NewServeMux()
	New(Options{Verifier: mustNotVerify{t}, Access: mustNotVerify{t}, Log: zerolog.Nop()}).Mount(mux, "/livekit")
	for _, c := range []struct {
		method, body string
		status       int
		want         string
	}{
		{http.MethodGet, "", 405, `{"errcode":"M_UNRECOGNIZED","error":"POST only"}`},
		{http.MethodPost, "not json", 400, `{"errcode":"M_NOT_JSON","error":"the body is not the JSON object this endpoint takes"}`},
		{http.MethodPost, `{"room":"!r:example.org"}`, 400, `{"errcode":"M_BAD_JSON","error":"the request needs room, openid_token and device_id"}`},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(c.method, "/livekit/sfu/get", strings.NewReader(c.body)))
		if got := rec.Body.String(); rec.Code != c.status || rec.Header().Get("Content-Type") != "application/json" || got != c.want+"\n" {
			t.Errorf("%s %q: %d %q %q, want %d application/json %q", c.method, c.body, rec.Code, rec.Header().Get("Content-Type"), got, c.status, c.want+"\n")
		}
	}
}

func TestPreflightAndMethods(t *testing.T) {
	srv := testServer(t, Options{Verifier: mustNotVerify{t}, Access: mustNotVerify{t}, Log: zerolog.Nop()})
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/livekit/get_token", nil)
	req.Header.Set("Origin", "https://call.example.org")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
	resp, err = srv.Client().Get(srv.URL + "/livekit/sfu/get")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d, want 405", resp.StatusCode)
	}
}
