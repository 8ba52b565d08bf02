package pgtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/store"
)

// NewStore opens a Store on a migrated database, closed when the test ends.
// Without opts.URI it gets a new database of its own (NewDatabase); with
// one, it is another replica, or a restart, on that database.
func NewStore(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	if opts.URI == "" {
		opts.URI = NewDatabase(t)
	}
	st, err := store.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// ListenFloor runs st's floor listener (store.ListenFloor) until the test
// ends and returns its notices after the first, a Resync without a loss:
// what another replica hears of the decisions on st's database.
func ListenFloor(t testing.TB, st *store.Store) <-chan store.FloorNotice {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	notices := make(chan store.FloorNotice, 64)
	done := make(chan error, 1)
	go func() { done <- st.ListenFloor(ctx, notices) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("ListenFloor ended with %v", err)
		}
	})
	if n := NextNotice(t, notices); !n.Resync || n.Lost != nil {
		t.Fatalf("first notice %+v, want a Resync without a loss", n)
	}
	return notices
}

// NextNotice is the next floor notice; none within 30 s fails the test.
func NextNotice(t testing.TB, notices <-chan store.FloorNotice) store.FloorNotice {
	t.Helper()
	select {
	case n := <-notices:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("no floor notice within 30 s")
	}
	return store.FloorNotice{}
}
