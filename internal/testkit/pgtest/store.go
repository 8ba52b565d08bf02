package pgtest

import (
	"testing"

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
