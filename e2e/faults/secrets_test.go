package faults

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// Walkie runs at debug level, in both log formats, through a whole floor
// conversation and every path that handles a token or reports an error: a
// transaction with a wrong hs_token, one with the token in the legacy query
// parameter, admin API calls with the right and a wrong token, a homeserver
// outage (failed sends are logged with their error), a crash and a restart.
// None of the three tokens may appear in anything it printed.
//
// That config.yaml and registration.yaml are written 0600 is tested where
// they are written: TestGenerateRegistration (internal/app),
// TestWriteRegistrationIsPrivate and the GenerateTokens tests
// (internal/config).
func TestSecretsStayOutOfTheLog(t *testing.T) {
	for _, format := range []string{config.LogFormatJSON, config.LogFormatPretty} {
		t.Run(format, func(t *testing.T) { secretsStayOutOfTheLog(t, format) })
	}
}

func secretsStayOutOfTheLog(t *testing.T, format string) {
	hs := NewHomeserver(t)
	w := NewWalkie(t, walkieproc.Options{DatabaseURL: pgtest.NewDatabase(t), HomeserverURL: hs.URL(), Floor: timers.Short,
		LogLevel: "debug", LogFormat: format})
	as := w.Config.AppService
	hs.Accept(as.ASToken)
	r := &rig{t: t, ctx: t.Context(), dbURL: w.Config.Database.URI, hs: hs, walkie: w, ev: NewEvents("s"),
		push: NewPusher(as.HSToken, "hs", w.URL()), expireLeasesOnKill: true}
	r.start()
	room := NewRooms("secret", 1, 2)[0]
	r.setUp(room)
	a, b := room.Devices[0], room.Devices[1]

	reqA, _ := r.ev.Request(room.ID, a, floor.ActionRequest)
	reqB, _ := r.ev.Request(room.ID, b, floor.ActionRequest)
	started, startedID := r.ev.Started(room.ID, a)
	r.mustPush(reqA, reqB, started, r.ev.Chunk(room.ID, a, startedID, 1))
	eventually(t, time.Minute, "the broadcast to start", func() bool { return r.logHas(room.ID, "started", startedID) })

	// Wrong token, then the token in the query string as older homeservers send it.
	if status := putTransaction(t, w.URL()+"/_matrix/app/v1/transactions/bad", "Bearer not-the-hs-token"); status != http.StatusForbidden {
		t.Errorf("a wrong hs_token got %d, want 403", status)
	}
	if status := putTransaction(t, w.URL()+"/transactions/legacy?access_token="+as.HSToken, ""); status != http.StatusOK {
		t.Errorf("the legacy query-parameter token got %d, want 200", status)
	}
	adminURL := w.URL() + "/_walkie/admin/v1/rooms/" + room.ID
	for token, want := range map[string]int{as.AdminToken: http.StatusOK, "wrong-admin-token": http.StatusForbidden} {
		if status := get(t, adminURL, token); status != want {
			t.Errorf("admin API answered %d, want %d", status, want)
		}
	}

	// The homeserver goes away while the floor changes hands: every send fails and is logged.
	hs.Down(true)
	r.mustPush(r.ev.Stopped(room.ID, a, startedID, 1))
	eventually(t, time.Minute, "a failed send to be logged", func() bool {
		return strings.Contains(w.Output(), "Sending failed")
	})
	hs.Down(false)
	r.kill()
	MustStart(t, r.ctx, w)
	r.waitIdle()
	w.Stop()

	out := w.Output()
	for _, want := range []string{"Floor decision", "Sending failed", "Skipping malformed event"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q: the flow did not take the path the test means to cover", want)
		}
	}
	for name, secret := range map[string]string{"as_token": as.ASToken, "hs_token": as.HSToken, "admin_token": as.AdminToken} {
		if secret == "" {
			t.Fatalf("%s is empty: walkie -g generated nothing", name)
		}
		if strings.Contains(out, secret) {
			t.Errorf("the %s appears in Walkie's log", name)
		}
	}
	t.Logf("checked %d bytes of %s log from %d processes", len(out), format, w.Starts())
}

func (r *rig) mustPush(events ...json.RawMessage) {
	r.t.Helper()
	if err := r.push.Push(r.ctx, events...); err != nil {
		r.t.Fatal(err)
	}
}

// putTransaction PUTs a transaction holding one malformed event (so the
// "skipping" warning, which names the transaction, is logged too).
func putTransaction(t *testing.T, url, auth string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader([]byte(`{"events":[{"type":"m.room.message"}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return do(t, req)
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
