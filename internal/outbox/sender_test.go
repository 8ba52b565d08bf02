package outbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/outbox"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const room = "!room:test"

// rig is a store, a sender and a homeserver stand-in whose answer to
// every PUT the test sets.
type rig struct {
	t       *testing.T
	st      *store.Store
	sender  *outbox.Sender
	metrics *metrics.Metrics
	status  atomic.Int32 // what the homeserver answers
	puts    atomic.Int32
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t}
	r.status.Store(http.StatusOK)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.puts.Add(1)
		code := int(r.status.Load())
		w.WriteHeader(code)
		if code == http.StatusOK {
			_, _ = w.Write([]byte(`{"event_id":"$sent"}`))
			return
		}
		errcode := map[int]string{401: "M_UNKNOWN_TOKEN", 403: "M_FORBIDDEN"}[code]
		_ = json.NewEncoder(w).Encode(map[string]string{"errcode": errcode, "error": "stand-in"})
	}))
	t.Cleanup(hs.Close)
	st := pgtest.NewStore(t, store.Options{Controller: "@walkie:test"})
	client, err := mautrix.NewClient(hs.URL, "@walkie:test", "as-token")
	if err != nil {
		t.Fatal(err)
	}
	client.DefaultHTTPRetries = 0
	r.st = st
	r.metrics = metrics.New(prometheus.NewRegistry(), "test", "test")
	r.sender = &outbox.Sender{Client: client, Store: st, Poll: 20 * time.Millisecond, Metrics: r.metrics, Log: zerolog.Nop()}
	return r
}

// run runs the sender until cond holds (or fails the test after 10 s).
func (r *rig) run(what string, cond func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.sender.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// enqueue adds a notice and returns its row ID.
func (r *rig) enqueue(calls ...matrix.Call) []int64 {
	r.t.Helper()
	var rows []store.OutboxRow
	for _, c := range calls {
		p, _ := c.Payload()
		rows = append(rows, store.OutboxRow{Kind: c.Kind, Payload: p})
	}
	if err := r.st.Enqueue(r.t.Context(), room, rows...); err != nil {
		r.t.Fatal(err)
	}
	var ids []int64
	got, _ := r.st.Pool().Query(r.t.Context(), `SELECT id FROM outbox WHERE room_id = $1 ORDER BY id DESC LIMIT $2`, room, len(calls))
	for got.Next() {
		var id int64
		_ = got.Scan(&id)
		ids = append([]int64{id}, ids...)
	}
	got.Close()
	return ids
}

type rowState struct {
	sent, failed bool
	attempts     int
	lastError    string
}

func (r *rig) row(id int64) rowState {
	var s rowState
	var lastError *string
	if err := r.st.Pool().QueryRow(r.t.Context(), `SELECT sent_at IS NOT NULL, failed, attempts, last_error FROM outbox WHERE id = $1`, id).
		Scan(&s.sent, &s.failed, &s.attempts, &lastError); err != nil {
		r.t.Fatal(err)
	}
	if lastError != nil {
		s.lastError = *lastError
	}
	return s
}

func (r *rig) setAttempts(id int64, n int) {
	if _, err := r.st.Pool().Exec(r.t.Context(), `UPDATE outbox SET attempts = $2 WHERE id = $1`, id, n); err != nil {
		r.t.Fatal(err)
	}
}

func floorState(text string) matrix.Call {
	empty := ""
	return matrix.Call{Kind: matrix.KindState, Request: matrix.Request{EventType: "org.matrix.msc4002.floor", StateKey: &empty,
		Content: json.RawMessage(`{"note":"` + text + `"}`)}}
}

// A row that keeps failing is given up after MaxAttempts, so the room's
// later rows go out; the admin retry sends it again.
func TestARowThatKeepsFailingIsGivenUpAndCanBeRetried(t *testing.T) {
	r := newRig(t)
	ids := r.enqueue(matrix.NoticeCall("first", ""), matrix.NoticeCall("second", ""))
	r.setAttempts(ids[0], outbox.MaxAttempts-1)
	r.status.Store(http.StatusBadGateway)
	r.run("the first row to be given up", func() bool { return r.row(ids[0]).failed })
	if s := r.row(ids[0]); !strings.Contains(s.lastError, "gave up after") {
		t.Fatalf("last_error %q does not say it gave up", s.lastError)
	}
	r.status.Store(http.StatusOK)
	r.run("the second row", func() bool { return r.row(ids[1]).sent })

	requeued, superseded, err := outbox.RetryFailed(t.Context(), r.st, room)
	if err != nil || requeued != 1 || superseded != 0 {
		t.Fatalf("retry: %d requeued, %d superseded, %v; want 1, 0", requeued, superseded, err)
	}
	r.run("the retried row", func() bool { return r.row(ids[0]).sent })
}

// A 401 (the homeserver does not know the as_token) is retried however
// often it comes, and counted, never dropped.
func TestUnauthorizedRowsAreRetriedNotDropped(t *testing.T) {
	r := newRig(t)
	ids := r.enqueue(matrix.NoticeCall("hello", ""))
	r.setAttempts(ids[0], outbox.MaxAttempts-1)
	r.status.Store(http.StatusUnauthorized)
	r.run("a refused attempt", func() bool { return strings.Contains(r.row(ids[0]).lastError, "M_UNKNOWN_TOKEN") })
	if s := r.row(ids[0]); s.failed || s.sent || s.attempts != outbox.MaxAttempts-1 {
		t.Fatalf("after a 401 the row is failed=%v sent=%v attempts %d, want it waiting, the 401 uncounted", s.failed, s.sent, s.attempts)
	}
	// A 401 period does not use up the cap: the next ordinary failure is
	// retried, not the end of the row.
	r.status.Store(http.StatusBadGateway)
	// The backoff has passed.
	if _, err := r.st.Pool().Exec(t.Context(), `UPDATE outbox_room SET due = clock_timestamp() WHERE due <> 'infinity'`); err != nil {
		t.Fatal(err)
	}
	r.run("a 502 after the 401s", func() bool { return strings.Contains(r.row(ids[0]).lastError, "502") || r.row(ids[0]).failed })
	if s := r.row(ids[0]); s.failed && s.attempts < outbox.MaxAttempts {
		t.Fatalf("given up after %d attempts, the 401s counted", s.attempts)
	}
	if n := testutil.ToFloat64(r.metrics.OutboxSends.WithLabelValues(matrix.KindMessage, "unauthorized")); n < 1 {
		t.Fatalf("outbox_sends_total{outcome=unauthorized} = %v", n)
	}
	// 403 is retried too, up to MaxAttempts.
	r2 := newRig(t)
	ids = r2.enqueue(matrix.NoticeCall("hello", ""))
	r2.status.Store(http.StatusForbidden)
	r2.run("a forbidden attempt", func() bool { return r2.row(ids[0]).attempts >= 1 })
	if s := r2.row(ids[0]); s.failed {
		t.Fatal("a first 403 must be retried, not given up")
	}
}

// The admin retry leaves a failed floor state alone when a later row sets
// the floor state again: sending the old one would undo the new one.
func TestRetryDoesNotResendAReplacedState(t *testing.T) {
	r := newRig(t)
	ids := r.enqueue(floorState("old"))
	r.setAttempts(ids[0], outbox.MaxAttempts-1)
	r.status.Store(http.StatusBadGateway)
	r.run("the old state to be given up", func() bool { return r.row(ids[0]).failed })
	r.status.Store(http.StatusOK)
	newer := r.enqueue(floorState("new"))
	r.run("the new state", func() bool { return r.row(newer[0]).sent })
	requeued, superseded, err := outbox.RetryFailed(t.Context(), r.st, room)
	if err != nil || requeued != 0 || superseded != 1 {
		t.Fatalf("retry: %d requeued, %d superseded, %v; want 0, 1", requeued, superseded, err)
	}
}

// A failed floor state is never sent again by the admin retry, even with
// no later row left (the janitor prunes sent rows after 7 days): the room
// would show an old floor. Nor is a decline: the bot may be welcome now.
func TestRetryNeverResendsAFloorStateOrALeave(t *testing.T) {
	r := newRig(t)
	ids := r.enqueue(floorState("alone"), matrix.LeaveCall("not allowed"))
	r.setAttempts(ids[0], outbox.MaxAttempts-1)
	r.setAttempts(ids[1], outbox.MaxAttempts-1)
	r.status.Store(http.StatusBadGateway)
	r.run("both rows to be given up", func() bool { return r.row(ids[0]).failed && r.row(ids[1]).failed })
	requeued, superseded, err := outbox.RetryFailed(t.Context(), r.st, room)
	if err != nil || requeued != 0 || superseded != 2 {
		t.Fatalf("retry: %d requeued, %d superseded, %v; want 0, 2", requeued, superseded, err)
	}
}
