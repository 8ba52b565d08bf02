package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// channelPath is the floor channel on Walkie's client-facing listener
// (floorchannel.Path; the bench talks to the walkie binary as a client
// does, so it does not import the product package).
const channelPath = "/_walkie/v1/floor"

// floorSocket is the bench's end of a floor-channel socket
// (docs/protocol.md, "Floor channel"). After auth, listen must run: it
// timestamps each message as it arrives, and only a reading socket
// answers Walkie's pings.
type floorSocket struct {
	ws *websocket.Conn
}

// channelMessage is what the bench reads of Walkie's messages: a floor
// push's state, a response's status and term, an error's code.
type channelMessage struct {
	Type     string       `json:"type"`
	ID       string       `json:"id"`
	RoomID   string       `json:"room_id"`
	Status   floor.Status `json:"status"`
	Reason   string       `json:"reason"`
	Errcode  string       `json:"errcode"`
	Error    string       `json:"error"`
	UserID   string       `json:"user_id"`
	DeviceID string       `json:"device_id"`
	floor.FloorState
}

// received is a message and the moment it was read off the socket.
type received struct {
	m  channelMessage
	at time.Time
}

// dialChannel opens a socket to the client-facing listener at webURL
// (http://host:port).
func dialChannel(ctx context.Context, webURL string) (*floorSocket, error) {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(webURL, "http")+channelPath, nil)
	if err != nil {
		return nil, fmt.Errorf("dial the floor channel: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	return &floorSocket{ws: ws}, nil
}

// auth sends the auth message and waits for ready.
func (s *floorSocket) auth(ctx context.Context, tok *mautrix.RespOpenIDToken, device string) error {
	if err := s.send(ctx, map[string]any{"type": "auth", "openid": tok, "device_id": device}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	m, err := s.read(ctx)
	if err != nil {
		return fmt.Errorf("waiting for ready: %w", err)
	}
	if m.Type != "ready" || m.DeviceID != device {
		return fmt.Errorf("after auth: %+v, want ready for device %s", m, device)
	}
	return nil
}

func (s *floorSocket) send(ctx context.Context, m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageText, b)
}

func (s *floorSocket) read(ctx context.Context) (channelMessage, error) {
	_, data, err := s.ws.Read(ctx)
	if err != nil {
		return channelMessage{}, err
	}
	var m channelMessage
	return m, json.Unmarshal(data, &m)
}

// listen reads until the socket closes, handing each message to deliver
// (nil: discard), and returns why it ended.
func (s *floorSocket) listen(ctx context.Context, deliver func(received)) error {
	for {
		m, err := s.read(ctx)
		at := time.Now()
		if err != nil {
			return err
		}
		if deliver != nil {
			deliver(received{m: m, at: at})
		}
	}
}

func (s *floorSocket) close() { _ = s.ws.Close(websocket.StatusNormalClosure, "") }
