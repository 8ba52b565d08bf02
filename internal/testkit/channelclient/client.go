// Package channelclient is a test's client of Walkie's floor channel
// (internal/floorchannel): a WebSocket that sends JSON messages and reads
// Walkie's, tolerant of the order in which a response and the floor push
// it causes arrive.
package channelclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Path is the channel's path on the client-facing listener (a copy of
// floorchannel.Path, which the test kit does not import).
const Path = "/_walkie/v1/floor"

// readLimit bounds each wait for a message: a deadline for failure, not a
// speed assertion.
const readLimit = 30 * time.Second

// Message is one of Walkie's messages, as decoded JSON.
type Message map[string]any

// Client is a test's end of a floor-channel socket.
type Client struct {
	t  testing.TB
	WS *websocket.Conn
	// held are messages read while looking for another (Take).
	held []Message
}

// Dial opens a socket to the listener at baseURL (http://host:port). The
// socket is closed when the test ends.
func Dial(t testing.TB, baseURL string, header http.Header) (*Client, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readLimit)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+Path, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &Client{t: t, WS: ws}, resp, nil
}

// MustDial is Dial that fails the test on error.
func MustDial(t testing.TB, baseURL string) *Client {
	t.Helper()
	c, _, err := Dial(t, baseURL, nil)
	if err != nil {
		t.Fatalf("dial the floor channel: %v", err)
	}
	return c
}

// Auth sends an auth message with the OpenID token object and expects
// ready for user and device.
func (c *Client) Auth(token any, user, device string) {
	c.t.Helper()
	c.Send(Message{"type": "auth", "openid": token, "device_id": device})
	if m := c.Next(); m["type"] != "ready" || m["user_id"] != user || m["device_id"] != device {
		c.t.Fatalf("after auth: %v, want ready for %s/%s", m, user, device)
	}
}

// Send sends a message.
func (c *Client) Send(m Message) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(b)
}

// SendRaw sends a text message as it is.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readLimit)
	defer cancel()
	if err := c.WS.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// Next is the next message (held ones first).
func (c *Client) Next() Message {
	c.t.Helper()
	if len(c.held) > 0 {
		m := c.held[0]
		c.held = c.held[1:]
		return m
	}
	m, err := c.Read()
	if err != nil {
		c.t.Fatalf("reading: %v", err)
	}
	return m
}

// Read reads the next message off the socket.
func (c *Client) Read() (Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readLimit)
	defer cancel()
	_, data, err := c.WS.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m Message
	return m, json.Unmarshal(data, &m)
}

// Take returns the first message (held or new) that match accepts; the
// others stay held, in order. An error message fails the test.
func (c *Client) Take(what string, match func(Message) bool) Message {
	c.t.Helper()
	for i, m := range c.held {
		if match(m) {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return m
		}
	}
	for {
		m, err := c.Read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (held %v)", what, err, c.held)
		}
		if match(m) {
			return m
		}
		if m["type"] == "error" {
			c.t.Fatalf("waiting for %s, got %v", what, m)
		}
		c.held = append(c.held, m)
	}
}

// Floor is the next floor push for room.
func (c *Client) Floor(room string) Message {
	c.t.Helper()
	return c.Take("a floor push for "+room, func(m Message) bool { return m["type"] == "floor" && m["room_id"] == room })
}

// FloorUntil reads floor pushes for room until one satisfies pred.
func (c *Client) FloorUntil(room, what string, pred func(Message) bool) Message {
	c.t.Helper()
	return c.Take(what, func(m Message) bool { return m["type"] == "floor" && m["room_id"] == room && pred(m) })
}

// Response is the response to the request named id.
func (c *Client) Response(id string) Message {
	c.t.Helper()
	return c.Take("response "+id, func(m Message) bool { return m["type"] == "response" && m["id"] == id })
}

// Closed reads until Walkie closes the socket and returns its close frame.
func (c *Client) Closed() websocket.CloseError {
	c.t.Helper()
	for {
		_, err := c.Read()
		if err == nil {
			continue // messages before the close
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("the socket ended without a close frame: %v", err)
		}
		return ce
	}
}

// Holder is a floor push's holder as user/device, "" when idle.
func Holder(push Message) string {
	h, ok := push["holder"].(map[string]any)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%v/%v", h["user_id"], h["device_id"])
}
