package e2e

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// recoveryInactivity is the inactivity_timeout the stack runs with, so a
// recovery measurement takes seconds, not minutes.
const recoveryInactivity = 3 * time.Second

// measureRecovery: in each room a talker starts a broadcast, sends one
// chunk and falls silent (its client "crashed") while a second device
// waits in the queue. It returns, per room, the time from the last chunk
// leaving the talker to the waiting device's /sync showing its grant.
func measureRecovery(ctx context.Context, s *stack.Stack, rooms int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range rooms {
		d, err := recoverOnce(ctx, s, fmt.Sprintf("recovery%d", i))
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

func recoverOnce(ctx context.Context, s *stack.Stack, name string) (time.Duration, error) {
	admin, err := s.HS.NewUser(ctx, name+"admin", "bench-password-"+name+"admin", "ADM")
	if err != nil {
		return 0, err
	}
	talker, err := s.HS.NewUser(ctx, name+"talker", "bench-password-"+name+"talker", "TALK")
	if err != nil {
		return 0, err
	}
	waiter, err := s.HS.NewUser(ctx, name+"waiter", "bench-password-"+name+"waiter", "WAIT")
	if err != nil {
		return 0, err
	}
	room, err := createRoom(ctx, admin, s.Walkie.BotUserID(), talker, waiter)
	if err != nil {
		return 0, err
	}
	watch, err := watchFloor(ctx, waiter, room)
	if err != nil {
		return 0, err
	}
	for _, p := range []struct {
		c   *mautrix.Client
		dev string
	}{{talker, "TALK"}, {waiter, "WAIT"}} {
		if _, err := p.c.SendStateEvent(ctx, room, matrix.TypePermit, "_"+p.c.UserID.String()+"_"+p.dev,
			map[string]any{"device_id": p.dev, "send": true, "receive": true}); err != nil {
			return 0, err
		}
	}
	if _, err := watch.waitFor(ctx, func(f floor.FloorState) bool { return f.Listeners == 2 }); err != nil {
		return 0, fmt.Errorf("permits never counted: %w", err)
	}
	started, err := talker.SendStateEvent(ctx, room, matrix.TypeBroadcastInfo, talker.UserID.String(),
		map[string]any{"state": "started", "device_id": "TALK", "chunk_length": 1})
	if err != nil {
		return 0, err
	}
	holds := func(c *mautrix.Client) func(floor.FloorState) bool {
		return func(f floor.FloorState) bool { return f.Holder != nil && f.Holder.UserID == c.UserID.String() }
	}
	if _, err := watch.waitFor(ctx, holds(talker)); err != nil {
		return 0, err
	}
	if _, err := waiter.SendMessageEvent(ctx, room, matrix.TypeRequest, map[string]any{"action": "request", "device_id": "WAIT"}); err != nil {
		return 0, err
	}
	if _, err := watch.waitFor(ctx, func(f floor.FloorState) bool { return len(f.Queue) == 1 }); err != nil {
		return 0, err
	}
	if _, err := talker.SendMessageEvent(ctx, room, matrix.TypeChunk, map[string]any{
		"sequence": 1, "m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": started.EventID}}); err != nil {
		return 0, err
	}
	lastChunk := time.Now() // the talker's client dies here
	granted, err := watch.waitFor(ctx, holds(waiter))
	if err != nil {
		return 0, fmt.Errorf("the waiting device never got the floor: %w", err)
	}
	return granted.at.Sub(lastChunk), nil
}
