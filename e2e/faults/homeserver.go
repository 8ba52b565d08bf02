package faults

import (
	"testing"

	"github.com/walkie-ptt/walkie/internal/testkit/fakehs"
)

// NewHomeserver starts the client-server API stand-in the fault tests run
// Walkie against: it records every send, applies each transaction ID once
// as a real homeserver does, and fails on command (Down, Forbid). It
// answers 503 until Accept gives it the as_token, known only after
// `walkie -g`.
func NewHomeserver(t testing.TB) *fakehs.Server {
	hs := fakehs.Start(fakehs.Options{BotUserID: BotUserID, Record: true})
	t.Cleanup(hs.Close)
	return hs
}
