package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/fakehs"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// idleLimit bounds the wait for Walkie to finish its work: well above the
// 30 s outbox lease a cut-off send waits out, so only "never" fails.
const idleLimit = 3 * time.Minute

// rig is one Walkie deployment under test: the binary, its database, the
// homeserver stand-in and the homeserver's pusher.
type rig struct {
	t      *testing.T
	ctx    context.Context
	dbURL  string
	hs     *fakehs.Server
	walkie *walkieproc.Process
	ev     *Events
	push   *Pusher
	db     *pgxpool.Pool // the audits' own connection
	st     *store.Store  // for the store's txn ID derivation
	// expireLeasesOnKill: see crashPlan.expireLeases.
	expireLeasesOnKill bool
}

// newRig configures Walkie with short timers (timers.Short), so every floor
// falls idle within seconds of the last event and the audits can read a
// finished history.
func newRig(t *testing.T, dbURL string) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background(), dbURL: dbURL, hs: NewHomeserver(t), ev: NewEvents("e")}
	r.walkie = NewWalkie(t, walkieproc.Options{DatabaseURL: dbURL, HomeserverURL: r.hs.URL(), Floor: timers.Short})
	r.hs.Accept(r.walkie.Config.AppService.ASToken)
	r.push = NewPusher(r.walkie.Config.AppService.HSToken, "hs", r.walkie.URL())
	return r
}

// start runs Walkie (which migrates the database) and opens the audit
// connections.
func (r *rig) start() {
	r.t.Helper()
	MustStart(r.t, r.ctx, r.walkie)
	var err error
	if r.db, err = pgxpool.New(r.ctx, r.dbURL); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(r.db.Close)
	if r.st, err = store.Open(r.ctx, store.Options{URI: r.dbURL, MaxConns: 2, Controller: BotUserID}); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(r.st.Close)
	if err := r.st.Migrate(r.ctx); err != nil { // a no-op that loads the install ID
		r.t.Fatal(err)
	}
}

// setUp brings the rooms into Walkie as a homeserver would: their state
// answers /state, and their setup events arrive in one transaction each.
func (r *rig) setUp(rooms ...Room) {
	r.t.Helper()
	for _, room := range rooms {
		events := r.ev.Setup(room)
		r.hs.SetRoomState(room.ID, events)
		if err := r.push.Push(r.ctx, events...); err != nil {
			r.t.Fatal(err)
		}
	}
}

// waitIdle waits until every event is decided, every row sent and every
// floor idle.
func (r *rig) waitIdle() {
	r.t.Helper()
	WaitIdle(r.t, r.db, idleLimit, r.walkie.OutputTail)
}

// waitDrained waits until every acknowledged event is decided and every
// outbox row sent (floors may still be held).
func (r *rig) waitDrained() {
	r.t.Helper()
	eventually(r.t, idleLimit, "the backlog to drain", func() bool {
		b, err := ReadBacklog(r.ctx, r.db)
		return err == nil && b.Inbox == 0 && b.Outbox == 0
	})
}

// busyPusher pushes conversations in the rooms, one to four events a
// transaction from rooms picked at random, until stop is closed. It is the
// homeserver's single transaction queue: one transaction in flight at a time.
func (r *rig) busyPusher(rooms []Room, stop <-chan struct{}) (done <-chan error) {
	convs := make([]*Conversation, len(rooms))
	for i, room := range rooms {
		convs[i] = NewConversation(room, r.ev)
	}
	errc := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		for {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			events := make([]json.RawMessage, 1+rng.IntN(4))
			for i := range events {
				events[i] = convs[rng.IntN(len(convs))].Next()
			}
			// A liveness bound per transaction: Walkie is never down that long.
			ctx, cancel := context.WithTimeout(r.ctx, 2*time.Minute)
			err := r.push.Push(ctx, events...)
			cancel()
			if err != nil {
				errc <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return errc
}

// figures are the numbers a test reports (and docs/reliability.md quotes).
type figures map[string]any

func (f figures) log(t *testing.T) {
	t.Helper()
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-34s %v", k, f[k])
	}
	t.Logf("figures:%s", b.String())
}

// auditAll runs every audit over the finished history and fails the test
// on any violation. acked are the acknowledged event IDs.
func (r *rig) auditAll(fig figures) {
	r.t.Helper()
	ctx := r.ctx
	acked := r.push.Acknowledged()
	ackedSet := map[string]bool{}
	for _, id := range acked {
		ackedSet[id] = true
	}
	onlyAcked := func(ids []string) []string {
		return slices.DeleteFunc(ids, func(id string) bool { return !ackedSet[id] })
	}
	floorRequests := onlyAcked(r.ev.Requests(floor.ActionRequest))
	requests := onlyAcked(r.ev.Requests())

	inbox, err := AuditInbox(ctx, r.db, acked)
	if err != nil {
		r.t.Fatal(err)
	}
	log, err := ReadFloorLog(ctx, r.db)
	if err != nil {
		r.t.Fatal(err)
	}
	fa := AuditFloorLog(log, floorRequests)
	rows, err := ReadOutbox(ctx, r.db)
	if err != nil {
		r.t.Fatal(err)
	}
	responses, err := Responses(rows)
	if err != nil {
		r.t.Fatal(err)
	}
	ra := AuditResponses(responses, requests)
	da := AuditDeliveries(rows, r.hs.Deliveries(), r.st.TxnID)

	fig["events acknowledged"] = inbox.Acknowledged
	fig["talk requests (all actions)"] = len(requests)
	fig["floor requests (action request)"] = len(floorRequests)
	fig["floor log rows"] = len(log)
	fig["grants"] = fa.Grants
	fig["overlapping holders found"] = len(fa.Overlaps)
	fig["term regressions found"] = len(fa.TermRegressions)
	fig["events decided twice"] = len(fa.DuplicateDecisions)
	fig["requests without a decision"] = len(fa.Undecided)
	fig["requests answered"] = ra.Answered
	fig["duplicate answers"] = len(ra.Duplicated)
	fig["outbox rows"] = len(rows)
	fig["rows delivered once"] = da.Delivered
	fig["state events re-sent unchanged"] = da.Resent
	fig["txn IDs replayed (deduplicated)"] = r.hs.Replays()
	fig["delivery problems"] = len(da.Problems())
	fig.log(r.t)

	report := func(what string, problems []string) {
		if len(problems) == 0 {
			return
		}
		shown := problems[:min(len(problems), 8)]
		r.t.Errorf("%s: %d problems:\n  %s", what, len(problems), strings.Join(shown, "\n  "))
	}
	report("inbox", inbox.Problems())
	report("floor log", fa.Problems())
	report("talk responses", ra.Problems())
	report("deliveries: unexpected", da.Unexpected)
	report("deliveries: marked sent, never delivered", da.Undelivered)
	report("deliveries: never sent", da.Unsent)

	if len(floorRequests) == 0 || fa.Grants == 0 {
		r.t.Errorf("the run made %d floor requests and %d grants: it proves nothing", len(floorRequests), fa.Grants)
	}
}

// dbNow is the database's clock.
func (r *rig) dbNow() time.Time {
	r.t.Helper()
	var now time.Time
	if err := r.db.QueryRow(r.ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		r.t.Fatal(err)
	}
	return now
}

// eventually polls cond until it holds; limit is a liveness bound.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAndWait closes stop and returns the pusher goroutine's error.
func stopAndWait(stop chan struct{}, done <-chan error) error {
	close(stop)
	return <-done
}
