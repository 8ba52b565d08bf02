package revoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/voice"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// waitLimit bounds each wait; a bench that hangs is a failed bench.
const waitLimit = 60 * time.Second

// The devices of the room's three people.
const (
	talkerDevice    = "TALK"
	listenerDevice  = "LISTEN"
	moderatorDevice = "ADMIN"
)

// rig is the measured room: a moderator (the room's creator, power 100,
// with a talk permit so it may pre-empt), a talker (power 0) and a
// listener. The talker and the listener are in the room's call as Go
// participants; the talker asks for the floor, and the moderator
// pre-empts, over the floor channel; the listener's socket follows the
// room and timestamps Walkie's pushes.
type rig struct {
	s                           *stack.Stack
	room                        id.RoomID
	moderator, talker, listener *mautrix.Client
	talkerPeer, listenerPeer    *lkpeer.Peer
	talkerID                    string // the talker's LiveKit identity
	talkerCh, moderatorCh       *e2e.Channel
	observer                    *e2e.Channel
	inbox                       *inbox
	stop                        context.CancelFunc
	requests                    int
	term                        int64 // the talker's turn being measured
}

func newRig(ctx context.Context, l *voice.LiveStack) (r *rig, err error) {
	listenCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := l.Stack
	r = &rig{s: s, inbox: &inbox{}, stop: stop}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.moderator, err = s.HS.NewUser(ctx, "revokemoderator", "bench-password-revokemoderator", moderatorDevice); err != nil {
		return r, err
	}
	if r.talker, err = s.HS.NewUser(ctx, "revoketalker", "bench-password-revoketalker", talkerDevice); err != nil {
		return r, err
	}
	if r.listener, err = s.HS.NewUser(ctx, "revokelistener", "bench-password-revokelistener", listenerDevice); err != nil {
		return r, err
	}
	if r.room, err = voice.CreateRoom(ctx, r.moderator, s.Walkie.BotUserID(), true, r.talker, r.listener); err != nil {
		return r, err
	}
	if r.observer, err = r.openChannel(ctx, listenCtx, r.listener, listenerDevice, r.room.String()); err != nil {
		return r, err
	}
	if r.talkerCh, err = r.openChannel(ctx, listenCtx, r.talker, talkerDevice, ""); err != nil {
		return r, err
	}
	if r.moderatorCh, err = r.openChannel(ctx, listenCtx, r.moderator, moderatorDevice, ""); err != nil {
		return r, err
	}
	mark := r.inbox.len()
	for _, c := range []*mautrix.Client{r.talker, r.moderator} {
		if err := permit(ctx, r.room, c, true); err != nil {
			return r, err
		}
	}
	if _, err := r.inbox.wait(ctx, mark, "both permits counted", func(g got) bool {
		return g.m.Type == "floor" && g.m.Listeners == 2
	}); err != nil {
		return r, err
	}
	if r.listenerPeer, _, err = r.joinCall(ctx, l, r.listener, listenerDevice); err != nil {
		return r, err
	}
	if r.talkerPeer, r.talkerID, err = r.joinCall(ctx, l, r.talker, talkerDevice); err != nil {
		return r, err
	}
	// The talker tries to publish from now on, allowed or not.
	return r, r.talkerPeer.Publish(ctx)
}

// openChannel opens a floor-channel socket as c's device, following room
// unless it is "", and puts what it reads into the inbox.
func (r *rig) openChannel(ctx, listenCtx context.Context, c *mautrix.Client, device, room string) (*e2e.Channel, error) {
	tok, err := c.RequestOpenIDToken(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s's OpenID token: %w", c.UserID, err)
	}
	ch, err := e2e.OpenChannel(ctx, r.s.Walkie.WebURL(), tok, device, room)
	if err != nil {
		return nil, err
	}
	go func() { _ = ch.Listen(listenCtx, r.inbox.add) }()
	return ch, nil
}

// joinCall asks Walkie's token service for a LiveKit token, as a
// MatrixRTC client does, and joins the room's call with it as a Go
// participant in the SFU's namespace. It returns the participant and its
// identity.
func (r *rig) joinCall(ctx context.Context, l *voice.LiveStack, c *mautrix.Client, device string) (*lkpeer.Peer, string, error) {
	tok, err := c.RequestOpenIDToken(ctx)
	if err != nil {
		return nil, "", err
	}
	body, err := json.Marshal(map[string]any{"room": r.room, "openid_token": tok, "device_id": device})
	if err != nil {
		return nil, "", err
	}
	resp, err := http.Post(r.s.Walkie.WebURL()+"/_walkie/v1/livekit/sfu/get", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var out struct{ URL, JWT string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.JWT == "" {
		return nil, "", fmt.Errorf("the token service answered %d (%v): no token for %s", resp.StatusCode, err, c.UserID)
	}
	peer, err := lkpeer.Start(ctx, l.SFU.NS, lkpeer.Options{LogWriter: l.Log})
	if err != nil {
		return nil, "", err
	}
	jctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	identity, err := peer.Join(jctx, out.URL, out.JWT)
	if err != nil {
		peer.Close()
		return nil, "", fmt.Errorf("%s could not join the call: %w", c.UserID, err)
	}
	return peer, identity, nil
}

// permit publishes c's talk permit for its device: to talk and listen,
// or (talk false) an empty one, which withdraws it.
func permit(ctx context.Context, room id.RoomID, c *mautrix.Client, talk bool) error {
	content := map[string]any{}
	if talk {
		content = map[string]any{"device_id": c.DeviceID.String(), "send": true, "receive": true}
	}
	_, err := c.SendStateEvent(ctx, room, matrix.TypePermit, "_"+c.UserID.String()+"_"+c.DeviceID.String(), content)
	return err
}

// adminAPI calls Walkie's admin API on the room (path "" reads it).
func (r *rig) adminAPI(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method,
		r.s.Walkie.URL()+"/_walkie/admin/v1/rooms/"+url.PathEscape(r.room.String())+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.s.Walkie.Config.AppService.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin API %s %s: %s", method, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (r *rig) close() {
	r.stop()
	for _, p := range []*lkpeer.Peer{r.talkerPeer, r.listenerPeer} {
		if p != nil {
			p.Close()
		}
	}
	for _, c := range []*e2e.Channel{r.observer, r.talkerCh, r.moderatorCh} {
		if c != nil {
			c.Close()
		}
	}
}
