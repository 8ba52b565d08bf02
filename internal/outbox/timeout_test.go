package outbox

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/matrix"
)

// A state load (GET /state of a large room, a decision, room setup) gets
// longer than one event, and every send must end within the lease, with a
// quarter of it left for recording the results.
func TestSendTimeoutsFitTheLease(t *testing.T) {
	for _, tc := range []struct {
		lease time.Duration
		kind  string
		want  time.Duration
	}{
		{30 * time.Second, matrix.KindLoadState, 15 * time.Second},
		{30 * time.Second, matrix.KindMessage, 7500 * time.Millisecond},
		{2 * time.Minute, matrix.KindLoadState, 20 * time.Second},
		{2 * time.Minute, matrix.KindState, 10 * time.Second},
	} {
		s := &Sender{Lease: tc.lease}
		got := s.timeout(tc.kind)
		if got != tc.want {
			t.Errorf("lease %v, %s: timeout %v, want %v", tc.lease, tc.kind, got, tc.want)
		}
		// deliverRoom starts a send only with timeout + lease/4 left.
		if need := got + tc.lease/4; need > tc.lease {
			t.Errorf("lease %v, %s: a send needs %v of lease left, more than the lease", tc.lease, tc.kind, need)
		}
	}
}
