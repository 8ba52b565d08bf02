package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// heldStore holds the first FinishRooms back until let go, and records
// how many rooms each call recorded.
type heldStore struct {
	*store.Store
	held    chan struct{} // closed when the first call waits
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	rounds  []int
}

func (h *heldStore) FinishRooms(ctx context.Context, owner string, rooms []store.Finished) (int, error) {
	first := false
	h.once.Do(func() { first = true; close(h.held) })
	if first {
		<-h.release
	}
	h.mu.Lock()
	h.rounds = append(h.rounds, len(rooms))
	h.mu.Unlock()
	return h.Store.FinishRooms(ctx, owner, rooms)
}

// Rooms whose rows were sent while another room's results were being
// recorded are recorded together, in one commit, and every one of them is.
func TestRoomsSentTogetherAreRecordedTogether(t *testing.T) {
	r := newRig(t)
	const n = 5
	for i := range n {
		p, _ := floorState(fmt.Sprint(i)).Payload()
		if err := r.st.Enqueue(t.Context(), fmt.Sprintf("!r%d:test", i), store.OutboxRow{Kind: matrix.KindState, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	held := &heldStore{Store: r.st, held: make(chan struct{}), release: make(chan struct{})}
	r.sender.Store = held
	r.sender.Concurrency = n

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.sender.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-held.held
	for deadline := time.Now().Add(10 * time.Second); r.sender.FinishesWaiting() < n-1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d rooms wait to be recorded, want %d", r.sender.FinishesWaiting(), n-1)
		}
	}
	close(held.release)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var unsent int
		if err := r.st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil {
			t.Fatal(err)
		}
		if unsent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows still unsent", unsent)
		}
	}
	held.mu.Lock()
	defer held.mu.Unlock()
	if len(held.rounds) < 2 || held.rounds[0] != 1 || held.rounds[1] != n-1 {
		t.Fatalf("rooms recorded per round %v, want [1 %d]: the rooms that waited together", held.rounds, n-1)
	}
}
