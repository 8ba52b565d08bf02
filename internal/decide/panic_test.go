package decide_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/store"
)

// A bug that panics while deciding on an event must cost neither the
// process nor the room: the transaction is still stored (and so
// acknowledged), the room worker sets that one event aside (floor log,
// metric), and the room goes on.
func TestAPanickingDecisionSetsTheEventAside(t *testing.T) {
	f := newFixture(t)
	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	f.d = decide.New(decide.Options{Store: f.st, Controller: bot, Permissions: permissions{}, Metrics: m, Log: zerolog.Nop()})
	const room = "!room:test"
	f.setupRoom(room, alice)
	f.deliver(f.permit(room, alice, "A", nil), f.request(room, alice, "A", "request", nil))
	if holderOf(f.room(room)) != alice+"/A" {
		t.Fatal("seed: alice does not hold the floor")
	}

	boom := f.ev(room, alice, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie status"})
	f.d.InjectFault(func(env matrix.Envelope) []matrix.Call {
		if env.EventID == eventID(boom) {
			panic("a bug")
		}
		return nil
	})
	f.deliverAndDecide(boom)
	if pending, _ := f.st.PendingRooms(f.ctx, 10); len(pending) != 1 {
		t.Fatalf("the event must be stored for the room worker: pending %v", pending)
	}
	release := f.ev(room, admin, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie release"})
	if _, _, err := f.st.SaveTransaction(f.ctx, "after", f.inbox(release)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.Room(f.ctx, room); err != nil {
		t.Fatal(err)
	}

	if pending, _ := f.st.PendingRooms(f.ctx, 10); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
	if n := testutil.ToFloat64(m.EventsSetAside); n != 1 {
		t.Fatalf("events set aside %v, want 1", n)
	}
	log, _ := f.st.FloorLog(f.ctx, room, 0, 20)
	var aside []string
	for _, l := range log {
		if l.Action == store.LogSetAside {
			aside = append(aside, l.EventID)
			if !strings.Contains(string(l.Reason), "panicked") {
				t.Errorf("set_aside reason %q does not say it panicked", l.Reason)
			}
		}
	}
	if len(aside) != 1 || aside[0] != eventID(boom) {
		t.Fatalf("set aside %v, want [%s]", aside, eventID(boom))
	}
	if f.room(room).Holder != nil {
		t.Fatal("the moderator's release after the bad event was not decided")
	}
}
