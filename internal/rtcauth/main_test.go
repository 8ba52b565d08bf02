package rtcauth

import (
	"os"
	"testing"

	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// A participant joins LiveKit with a token from the service: it runs as
// this test binary inside a network namespace (lkpeer).
func TestMain(m *testing.M) {
	lkpeer.RunIfPeer()
	os.Exit(m.Run())
}
