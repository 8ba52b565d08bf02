package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// listen runs st's floor listener until the test ends and returns its
// notices, after the first Resync.
func (f *fixture) listen(st *store.Store) <-chan store.FloorNotice {
	f.t.Helper()
	ctx, cancel := context.WithCancel(f.ctx)
	notices := make(chan store.FloorNotice, 64)
	done := make(chan error, 1)
	go func() { done <- st.ListenFloor(ctx, notices) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			f.t.Errorf("ListenFloor ended with %v", err)
		}
	})
	if n := next(f.t, notices); !n.Resync || n.Lost != nil {
		f.t.Fatalf("first notice %+v, want a Resync without a loss", n)
	}
	return notices
}

func next(t *testing.T, notices <-chan store.FloorNotice) store.FloorNotice {
	t.Helper()
	select {
	case n := <-notices:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("no floor notice within 30 s")
	}
	return store.FloorNotice{}
}

// notify commits a transaction that notifies fs (or rolls it back).
func (f *fixture) notify(room string, version int64, fs floor.FloorState, rollback bool) {
	f.t.Helper()
	_, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		tx.NotifyFloor(room, version, fs)
		if rollback {
			return errRollback
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRollback) {
		f.t.Fatal(err)
	}
}

var errRollback = errors.New("roll back")

func TestFloorNoticesReachOtherProcessesOnCommitOnly(t *testing.T) {
	f := newFixture(t)
	other := f.open() // another replica on the same database
	notices := f.listen(other)

	alice := floor.Device{UserID: alice, DeviceID: "ALICE"}
	f.notify("!rolled:test", 1, floor.FloorState{Term: 1}, true)
	f.notify("!room:test", 4, floor.FloorState{Holder: &alice, Term: 9, Queue: []floor.Device{}}, false)
	n := next(t, notices)
	if n.RoomID != "!room:test" || n.Version != 4 || n.Floor == nil || n.Floor.Holder == nil || *n.Floor.Holder != alice || n.Floor.Term != 9 {
		t.Fatalf("notice %+v (floor %+v), want room !room:test version 4 held by ALICE at term 9", n, n.Floor)
	}

	// A floor state too big for a notification comes without its content.
	long := make([]floor.Device, 100)
	for i := range long {
		long[i] = floor.Device{UserID: fmt.Sprintf("@%s%d:test", strings.Repeat("u", 60), i), DeviceID: "D"}
	}
	f.notify("!big:test", 5, floor.FloorState{Queue: long}, false)
	if n := next(t, notices); n.RoomID != "!big:test" || n.Version != 5 || n.Floor != nil {
		t.Fatalf("notice %+v, want room !big:test version 5 without its floor", n)
	}
}

func TestFloorListenerReconnectsAndAsksForAResync(t *testing.T) {
	f := newFixture(t)
	notices := f.listen(f.st)

	// Kill the listening backend, as a database restart or a network
	// failure would.
	var killed bool
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the listener: %v (killed %v)", err, killed)
	}
	n := next(t, notices)
	if !n.Resync || n.Lost == nil {
		t.Fatalf("notice %+v after the connection was lost, want a Resync naming the loss", n)
	}
	// And it listens again.
	f.notify("!room:test", 1, floor.FloorState{Queue: []floor.Device{}}, false)
	if n := next(t, notices); n.RoomID != "!room:test" || n.Version != 1 {
		t.Fatalf("notice %+v after reconnecting, want !room:test version 1", n)
	}
}
