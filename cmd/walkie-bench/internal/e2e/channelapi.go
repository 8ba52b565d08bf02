package e2e

import (
	"context"
	"time"

	"maunium.net/go/mautrix"
)

// Channel is the bench's floor-channel socket for other benchmarks
// (walkie-bench revoke): authenticated, optionally following a room, and
// read by Listen.
type Channel struct{ sock *floorSocket }

// ChannelMessage is one of Walkie's messages on the channel as the bench
// reads it.
type ChannelMessage = channelMessage

// OpenChannel dials Walkie's client-facing listener at webURL,
// authenticates as tok's user and device, and follows room unless it is
// "".
func OpenChannel(ctx context.Context, webURL string, tok *mautrix.RespOpenIDToken, device, room string) (*Channel, error) {
	sock, err := dialChannel(ctx, webURL)
	if err != nil {
		return nil, err
	}
	if err = sock.auth(ctx, tok, device); err == nil && room != "" {
		err = follow(ctx, sock, room, true)
	}
	if err != nil {
		sock.close()
		return nil, err
	}
	return &Channel{sock: sock}, nil
}

// Send sends one message.
func (c *Channel) Send(ctx context.Context, m map[string]any) error { return c.sock.send(ctx, m) }

// Listen reads until the socket closes, handing each message and the
// moment it was read to deliver.
func (c *Channel) Listen(ctx context.Context, deliver func(ChannelMessage, time.Time)) error {
	return c.sock.listen(ctx, func(r received) { deliver(r.m, r.at) })
}

// Close closes the socket.
func (c *Channel) Close() { c.sock.close() }
