package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/homeserver"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// echoAS is the baseline: the least an appservice can do to answer a floor
// request — no database, no rules — so the difference to Walkie is the cost
// of Walkie's durability and arbitration. It acknowledges each transaction
// at once (as Walkie does after its commit) and answers every talk_request
// by sending the floor state the request asks for.
type echoAS struct {
	hsToken, asToken string
	botUser          id.UserID
	ln               net.Listener
	srv              *http.Server
	client           *mautrix.Client

	ctx  context.Context
	mu   sync.Mutex
	term map[id.RoomID]int64
}

func newEchoAS() (*echoAS, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &echoAS{hsToken: randomToken(), asToken: randomToken(), botUser: "@echo:localhost", ln: ln,
		term: map[id.RoomID]int64{}, ctx: context.Background()}
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serveHTTP)}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// writeRegistration writes the echo appservice's registration file.
func (e *echoAS) writeRegistration(path string) error {
	reg := fmt.Sprintf(`id: echo
url: http://%s
as_token: %s
hs_token: %s
sender_localpart: echo
rate_limited: false
namespaces:
  users:
    - exclusive: true
      regex: '^@echo:localhost$'
  aliases: []
  rooms: []
`, e.ln.Addr(), e.asToken, e.hsToken)
	return os.WriteFile(path, []byte(reg), 0o600)
}

// start connects the echo bot to the homeserver and begins answering.
func (e *echoAS) start(ctx context.Context, homeserverURL string) error {
	// The same client as Walkie's (connection reuse, no hidden retries),
	// so the two differ only in what happens between receipt and send.
	c, err := homeserver.NewClient(homeserverURL, e.botUser.String(), e.asToken, zerolog.Nop())
	if err != nil {
		return err
	}
	e.client, e.ctx = c, ctx
	return nil
}

func (e *echoAS) close() { _ = e.srv.Close() }

func (e *echoAS) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+e.hsToken && r.URL.Query().Get("access_token") != e.hsToken {
		http.Error(w, `{"errcode":"M_FORBIDDEN"}`, http.StatusForbidden)
		return
	}
	var txn struct {
		Events []*event.Event `json:"events"`
	}
	if r.Method == http.MethodPut && json.NewDecoder(r.Body).Decode(&txn) == nil && e.client != nil {
		// Answer after acknowledging, in parallel across transactions,
		// as Walkie decides after its commit, rooms in parallel.
		go func() {
			for _, ev := range txn.Events {
				e.answer(e.ctx, ev)
			}
		}()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

func (e *echoAS) answer(ctx context.Context, ev *event.Event) {
	switch {
	case ev.Type == event.StateMember && ev.StateKey != nil && *ev.StateKey == e.botUser.String():
		if ev.Content.Raw["membership"] == "invite" {
			_, _ = e.client.JoinRoomByID(ctx, ev.RoomID)
		}
	case ev.Type.Type == floor.TypeRequest:
		action, _ := ev.Content.Raw["action"].(string)
		deviceID, _ := ev.Content.Raw["device_id"].(string)
		e.mu.Lock()
		state := floor.FloorState{Term: e.term[ev.RoomID], Queue: []floor.Device{}}
		if action == floor.ActionRequest {
			e.term[ev.RoomID]++
			state.Term = e.term[ev.RoomID]
			state.Holder = &floor.Device{UserID: ev.Sender.String(), DeviceID: deviceID}
		}
		e.mu.Unlock()
		_, _ = e.client.SendStateEvent(ctx, ev.RoomID, matrix.TypeFloor, "", state)
	}
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// echoRig is what a run with the echo baseline sets up first: the echo
// appservice, its registration file for the homeserver, and the log file
// the run's stacks write to.
type echoRig struct {
	echo         *echoAS
	registration string
	log          *os.File
	dir          string
}

// newEchoRig starts the echo and writes its registration; name tells the
// run's temporary files apart ("e2ebench", "seqbench").
func newEchoRig(name, logDir string) (r *echoRig, err error) {
	r = &echoRig{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.echo, err = newEchoAS(); err != nil {
		return nil, err
	}
	if r.dir, err = os.MkdirTemp("", "walkie-"+name+"-"); err != nil {
		return nil, err
	}
	r.registration = filepath.Join(r.dir, "echo-registration.yaml")
	if err = r.echo.writeRegistration(r.registration); err != nil {
		return nil, err
	}
	if r.log, err = os.CreateTemp(logDir, "walkie-"+name+"-*.log"); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *echoRig) close() {
	if r.log != nil {
		_ = r.log.Close()
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
	if r.echo != nil {
		r.echo.close()
	}
}
