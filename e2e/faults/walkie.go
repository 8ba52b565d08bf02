package faults

import (
	"context"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// Domain is the server name of every user and room in the fault tests.
const Domain = "faults.test"

// BotUserID is the controller Walkie runs as.
const BotUserID = "@walkie:" + Domain

// NewWalkie configures the real walkie binary for a fault test, in the
// test's temporary directory and with its whole output kept for the test
// to read. It is stopped when the test ends.
func NewWalkie(t testing.TB, opts walkieproc.Options) *walkieproc.Process {
	t.Helper()
	opts.Dir, opts.Domain = t.TempDir(), Domain
	// The first call builds the binary.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := walkieproc.Configure(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// NewReplica is a second walkie process on w's config (tokens, database,
// homeserver), stopped when the test ends.
func NewReplica(t testing.TB, w *walkieproc.Process) *walkieproc.Process {
	t.Helper()
	r, err := w.Replica(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// MustStart starts w and waits until it is ready, or fails the test.
func MustStart(t testing.TB, ctx context.Context, w *walkieproc.Process) {
	t.Helper()
	if err := w.Start(ctx); err != nil {
		t.Fatalf("start walkie: %v", err)
	}
}
