package livekit

import (
	"os"
	"testing"

	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// The media tests run participants as this test binary inside a network
// namespace (lkpeer).
func TestMain(m *testing.M) {
	lkpeer.RunIfPeer()
	os.Exit(m.Run())
}
