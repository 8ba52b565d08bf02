package revoke

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
	"github.com/walkie-ptt/walkie/internal/floor"
)

// got is a message the bench read off one of its floor-channel sockets,
// and when.
type got struct {
	m  e2e.ChannelMessage
	at time.Time
}

// inbox keeps every message the bench's sockets read, in order, so a
// wait can look at what arrived after a mark.
type inbox struct {
	mu  sync.Mutex
	all []got
}

func (b *inbox) add(m e2e.ChannelMessage, at time.Time) {
	b.mu.Lock()
	b.all = append(b.all, got{m: m, at: at})
	b.mu.Unlock()
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.all)
}

// inboxPoll is how often a wait looks again; the times it returns are the
// reads' own, so it only bounds how soon the bench moves on.
const inboxPoll = 2 * time.Millisecond

// wait returns the first message from index mark on that match accepts.
// An error message from Walkie ends it.
func (b *inbox) wait(ctx context.Context, mark int, what string, match func(got) bool) (got, error) {
	deadline := time.Now().Add(waitLimit)
	for {
		b.mu.Lock()
		for _, g := range b.all[min(mark, len(b.all)):] {
			if g.m.Type == "error" {
				b.mu.Unlock()
				return g, fmt.Errorf("waiting for %s, Walkie answered %s: %s", what, g.m.Errcode, g.m.Error)
			}
			if match(g) {
				b.mu.Unlock()
				return g, nil
			}
		}
		mark = len(b.all)
		b.mu.Unlock()
		if time.Now().After(deadline) {
			return got{}, fmt.Errorf("no %s within %s", what, waitLimit)
		}
		select {
		case <-ctx.Done():
			return got{}, ctx.Err()
		case <-time.After(inboxPoll):
		}
	}
}

// response waits for the answer to the request named id.
func (b *inbox) response(ctx context.Context, mark int, id string) (got, error) {
	return b.wait(ctx, mark, "the answer to "+id, func(g got) bool { return g.m.Type == "response" && g.m.ID == id })
}

// latestFloor is the last floor push (zero if none yet).
func (b *inbox) latestFloor() floor.FloorState {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.all) - 1; i >= 0; i-- {
		if b.all[i].m.Type == "floor" {
			return b.all[i].m.FloorState
		}
	}
	return floor.FloorState{}
}
