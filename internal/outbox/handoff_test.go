package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/outbox"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

// Hand-off at commit (store/handoff.go, decide/handoff.go): a decision
// that finds its room idle leases it to its process's sender, which sends
// the rows without a claim. These tests run the decider, the store and
// the sender as the service does, against a homeserver stand-in.

const admin = "@admin:test"

// everyone may use Walkie's commands.
type everyone struct{}

func (everyone) PermissionLevel(string) config.Level { return config.LevelAdmin }

// delivery is a message the stand-in accepted: which replica's sender
// sent it, to which room, and the outbox row its txn ID names.
type delivery struct {
	replica int
	room    string
	row     int64
}

// standIn is a homeserver stand-in shared by replicas: it records the
// messages it accepts in arrival order, can refuse the next ones, and can
// hold a room's messages until let go.
type standIn struct {
	mu        sync.Mutex
	delivered []delivery
	refuse    int                      // messages to answer 502 before accepting again
	held      map[string]chan struct{} // room -> closed when its messages may go on
	waiting   chan string              // a room whose message is being held
}

func newStandIn() *standIn {
	return &standIn{held: map[string]chan struct{}{}, waiting: make(chan string, 16)}
}

// hold makes the room's messages wait until the returned func is called.
func (s *standIn) hold(room string) (letGo func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.held[room] = gate
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		delete(s.held, room)
		s.mu.Unlock()
		close(gate)
	})
}

func (s *standIn) handler(replica int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPut {
			http.NotFound(w, req)
			return
		}
		// /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}
		parts := strings.Split(req.URL.Path, "/")
		room := parts[5]
		if parts[6] != "send" {
			_, _ = w.Write([]byte(`{"event_id":"$state"}`))
			return
		}
		txn := parts[len(parts)-1]
		row, err := strconv.ParseInt(txn[strings.LastIndex(txn, ".")+1:], 10, 64)
		if err != nil {
			http.Error(w, "bad txn ID", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		gate := s.held[room]
		s.mu.Unlock()
		if gate != nil {
			s.waiting <- room
			<-gate
		}
		if req.Context().Err() != nil {
			return // the sender gave up: as if it never came
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.refuse > 0 {
			s.refuse--
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"stand-in"}`))
			return
		}
		s.delivered = append(s.delivered, delivery{replica: replica, room: room, row: row})
		_, _ = fmt.Fprintf(w, `{"event_id":"$%d"}`, row)
	})
}

func (s *standIn) deliveries() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.delivered)
}

// claimCounter is the store as a sender uses it, noting the rooms its
// claims return; beforeFinish, when set, runs before results are recorded.
type claimCounter struct {
	*store.Store
	mu           sync.Mutex
	claimed      []string
	beforeFinish func(rooms []store.Finished)
}

func (c *claimCounter) FinishRooms(ctx context.Context, owner string, rooms []store.Finished) (int, error) {
	c.mu.Lock()
	hook := c.beforeFinish
	c.mu.Unlock()
	if hook != nil {
		hook(rooms)
	}
	return c.Store.FinishRooms(ctx, owner, rooms)
}

func (c *claimCounter) ClaimRooms(ctx context.Context, owner string, limit int, lease time.Duration) ([]store.RoomBatch, error) {
	batches, err := c.Store.ClaimRooms(ctx, owner, limit, lease)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range batches {
		c.claimed = append(c.claimed, b.RoomID)
	}
	return batches, err
}

func (c *claimCounter) claims() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.claimed)
}

// replica is one Walkie process: its own pool, decider and sender.
type replica struct {
	t      *testing.T
	st     *store.Store
	d      *decide.Decider
	store  *claimCounter
	sender *outbox.Sender
	evs    *roomevents.Builder
	stop   func()
}

type handOffRig struct {
	t        *testing.T
	url      string
	hs       *standIn
	replicas []*replica
}

func newHandOffRig(t *testing.T, replicas int) *handOffRig {
	t.Helper()
	r := &handOffRig{t: t, url: pgtest.NewDatabase(t), hs: newStandIn()}
	for i := range replicas {
		r.replicas = append(r.replicas, r.newReplica(i))
	}
	return r
}

func (r *handOffRig) newReplica(i int) *replica {
	t := r.t
	srv := httptest.NewServer(r.hs.handler(i))
	t.Cleanup(srv.Close)
	st := pgtest.NewStore(t, store.Options{URI: r.url, Controller: bot})
	client, err := mautrix.NewClient(srv.URL, bot, "as-token")
	if err != nil {
		t.Fatal(err)
	}
	client.DefaultHTTPRetries = 0
	d := decide.New(decide.Options{Store: st, Controller: bot, Permissions: everyone{}, Log: zerolog.Nop()})
	counted := &claimCounter{Store: st}
	sender := &outbox.Sender{Client: client, Store: counted, Ready: d.OutboxReady(), Decider: d,
		Poll: 20 * time.Millisecond, Log: zerolog.Nop()}
	return &replica{t: t, st: st, d: d, store: counted, sender: sender, evs: roomevents.New(fmt.Sprintf("r%d", i))}
}

// start runs the replica's sender until the test ends or stop is called.
func (p *replica) start() {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.sender.Run(ctx); close(done) }()
	p.stop = sync.OnceFunc(func() { cancel(); <-done })
	p.t.Cleanup(p.stop)
	waitFor(p.t, "the sender to take hand-offs", p.sender.TakesHandOffs)
}

// manage makes room a managed room with the bot in it, as a state load
// does.
func (p *replica) manage(room string) {
	p.t.Helper()
	snap, _ := matrix.Snapshot(room, p.evs.ManagedRoom(room, admin, bot, "@alice:test"))
	if _, err := p.d.DecideInputs(p.t.Context(), room, snap); err != nil {
		p.t.Fatal(err)
	}
}

// status asks `!walkie status` in room: a decision that writes one
// notice, and returns its outbox row.
func (p *replica) status(room string) int64 {
	p.t.Helper()
	raw, id := p.evs.Event(room, "@alice:test", "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie status"})
	if _, err := p.d.Transaction(p.t.Context(), "txn-"+id, []json.RawMessage{raw}); err != nil {
		p.t.Fatal(err)
	}
	var row int64
	if err := p.st.Pool().QueryRow(p.t.Context(), `SELECT id FROM outbox WHERE room_id = $1 AND kind = $2 AND payload::text LIKE '%' || $3 || '%'`,
		room, matrix.KindMessage, id).Scan(&row); err != nil {
		p.t.Fatalf("the notice answering %s: %v", id, err)
	}
	return row
}

// lease is the room's outbox lease: its owner ("" when none), and whether
// it is due now.
func (r *handOffRig) lease(room string) (owner string, dueNow bool) {
	r.t.Helper()
	var o *string
	if err := r.replicas[0].st.Pool().QueryRow(r.t.Context(), `SELECT owner, due <= clock_timestamp() FROM outbox_room WHERE room_id = $1`, room).
		Scan(&o, &dueNow); err != nil {
		r.t.Fatal(err)
	}
	if o != nil {
		owner = *o
	}
	return owner, dueNow
}

// drained waits until no row is unsent.
func (r *handOffRig) drained() {
	r.t.Helper()
	waitFor(r.t, "every row to be sent", func() bool {
		n, err := r.replicas[0].st.OutboxDepth(r.t.Context())
		return err == nil && n == 0
	})
}

// deliveredOnce checks that every message row was delivered exactly once
// and a room's in row order, and returns the deliveries by row.
func (r *handOffRig) deliveredOnce() map[int64]delivery {
	r.t.Helper()
	byRow := map[int64]delivery{}
	last := map[string]int64{}
	for _, d := range r.hs.deliveries() {
		if _, twice := byRow[d.row]; twice {
			r.t.Fatalf("row %d was delivered twice", d.row)
		}
		if d.row < last[d.room] {
			r.t.Fatalf("row %d of %s was delivered after row %d", d.row, d.room, last[d.room])
		}
		byRow[d.row], last[d.room] = d, d.row
	}
	rows, err := r.replicas[0].st.Pool().Query(r.t.Context(), `SELECT id FROM outbox WHERE kind = $1`, matrix.KindMessage)
	if err != nil {
		r.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		r.t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := byRow[id]; !ok {
			r.t.Fatalf("row %d was never delivered", id)
		}
	}
	return byRow
}

// oneReplica is a rig of one replica whose sender, tuned by tune (if
// set), runs, with the rooms managed and their first rows sent.
func oneReplica(t *testing.T, tune func(*outbox.Sender), rooms ...string) (*handOffRig, *replica) {
	t.Helper()
	r := newHandOffRig(t, 1)
	p := r.replicas[0]
	if tune != nil {
		tune(p.sender)
	}
	p.start()
	for _, rm := range rooms {
		p.manage(rm)
	}
	r.drained()
	return r, p
}

// refusedStatus asks `!walkie status` in room with the homeserver
// refusing the notice once, and waits until its retry waits for the
// backoff, the room released; it returns the notice's row.
func (r *handOffRig) refusedStatus(p *replica, room string) int64 {
	r.t.Helper()
	r.hs.mu.Lock()
	r.hs.refuse = 1
	r.hs.mu.Unlock()
	row := p.status(room)
	waitFor(r.t, "the refused row's retry to be scheduled", func() bool {
		owner, dueNow := r.lease(room)
		var attempts int
		_ = p.st.Pool().QueryRow(r.t.Context(), `SELECT attempts FROM outbox WHERE id = $1`, row).Scan(&attempts)
		return attempts == 1 && owner == "" && !dueNow
	})
	return row
}

// busySlot makes the busy room's sending keep its slot until letGo: its
// results wait to be recorded.
func (r *handOffRig) busySlot(p *replica, busy string) (letGo func()) {
	r.t.Helper()
	held, gate := make(chan struct{}, 1), make(chan struct{})
	letGo = sync.OnceFunc(func() { close(gate) })
	r.t.Cleanup(letGo)
	p.store.mu.Lock()
	p.store.beforeFinish = func(rooms []store.Finished) {
		if rooms[0].Room.RoomID == busy {
			held <- struct{}{}
			<-gate
		}
	}
	p.store.mu.Unlock()
	p.status(busy)
	<-held
	return letGo
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A decision in an idle room hands its rows to the sender: they are sent
// without any claim returning the room.
func TestAHandOffIsSentWithoutAClaim(t *testing.T) {
	r, p := oneReplica(t, nil, room)
	for range 3 {
		p.status(room)
		r.drained()
	}
	r.deliveredOnce()
	if n := len(r.hs.deliveries()); n != 3 {
		t.Fatalf("%d notices delivered, want 3", n)
	}
	if claims := p.store.claims(); len(claims) != 0 {
		t.Fatalf("claims returned %v; the rooms were handed off at commit", claims)
	}
}

// A room whose row waits for a retry's backoff is not idle: a decision
// there leaves the lease alone, and its row goes after the retried one,
// by a claim.
func TestARoomWithARetryWaitingIsNotHandedOff(t *testing.T) {
	r, p := oneReplica(t, nil, room)
	first := r.refusedStatus(p, room)
	// Long enough that the decision below meets the retry waiting.
	if _, err := p.st.Pool().Exec(t.Context(), `UPDATE outbox_room SET due = clock_timestamp() + interval '1 hour' WHERE room_id = $1`, room); err != nil {
		t.Fatal(err)
	}
	second := p.status(room)
	if owner, dueNow := r.lease(room); owner != "" || dueNow {
		t.Fatalf("after a decision the room is leased to %q, due now %v: a room waiting for a retry was handed off", owner, dueNow)
	}
	if _, err := p.st.Pool().Exec(t.Context(), `UPDATE outbox_room SET due = clock_timestamp() WHERE room_id = $1`, room); err != nil {
		t.Fatal(err)
	}
	r.drained()
	byRow := r.deliveredOnce()
	if _, ok := byRow[first]; !ok || byRow[second].row != second {
		t.Fatalf("delivered %v, want rows %d then %d", r.hs.deliveries(), first, second)
	}
	if !slices.Contains(p.store.claims(), room) {
		t.Fatal("no claim took the room: the rows after a retry go by claim")
	}
}

// A second decision in a room whose rows are being sent is not handed
// off (the room is leased); its row goes after the first, by a claim as
// soon as the first is done.
func TestTwoDecisionsInARowKeepTheirOrder(t *testing.T) {
	r, p := oneReplica(t, nil, room)
	letGo := r.hs.hold(room)
	defer letGo()
	first := p.status(room)
	<-r.hs.waiting // the first notice is in flight, the room leased
	second := p.status(room)
	if owner, _ := r.lease(room); owner == "" {
		t.Fatal("the room is not leased while its first row is being sent")
	}
	letGo()
	r.drained()
	byRow := r.deliveredOnce()
	for _, row := range []int64{first, second} {
		if _, ok := byRow[row]; !ok {
			t.Fatalf("row %d not delivered", row)
		}
	}
	if claims := p.store.claims(); !slices.Equal(claims, []string{room}) {
		t.Fatalf("claims returned %v, want the room once (for the second row)", claims)
	}
}

// A process that dies after a hand-off's commit loses nothing: the lease
// runs out and another sender claims the rows.
func TestAHandOffOfADeadProcessIsSentAfterItsLease(t *testing.T) {
	r := newHandOffRig(t, 2)
	dead, other := r.replicas[0], r.replicas[1]
	// dead's sender takes hand-offs and then never runs again.
	if h := dead.d.HandOffTo(store.NewOwner(), time.Second); h == nil {
		t.Fatal("no hand-offs")
	}
	dead.manage(room)
	row := dead.status(room)
	if owner, _ := r.lease(room); owner == "" {
		t.Fatal("the decision did not lease the idle room")
	}
	other.start()
	r.drained()
	byRow := r.deliveredOnce()
	if d := byRow[row]; d.replica != 1 {
		t.Fatalf("row %d delivered by replica %d, want the other one", row, d.replica)
	}
	if !slices.Contains(other.store.claims(), room) {
		t.Fatal("the other replica did not claim the room")
	}
}

// With two replicas, each hands its own decisions to its own sender; with
// both deciding in the same rooms at once, every row is sent once and a
// room's in order.
func TestTwoReplicasHandOffToTheirOwnSenders(t *testing.T) {
	r := newHandOffRig(t, 2)
	for _, p := range r.replicas {
		p.start()
	}
	rooms := []string{"!a:test", "!b:test", "!c:test"}
	for _, rm := range rooms {
		r.replicas[0].manage(rm)
	}
	r.drained()
	// One at a time, each room idle: each replica's rows go to its sender.
	for i := range 4 {
		p := r.replicas[i%2]
		row := p.status(rooms[0])
		r.drained()
		if d := r.deliveredOnce()[row]; d.replica != i%2 {
			t.Fatalf("row %d decided by replica %d was sent by replica %d", row, i%2, d.replica)
		}
	}
	for i, p := range r.replicas {
		if claims := p.store.claims(); len(claims) != 0 {
			t.Fatalf("replica %d claimed %v; every room was idle", i, claims)
		}
	}
	// Both at once, in every room.
	var wg sync.WaitGroup
	for i, p := range r.replicas {
		for _, rm := range rooms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					raw, id := p.evs.Event(rm, "@alice:test", "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie status"})
					if _, err := p.d.Transaction(context.Background(), fmt.Sprintf("txn-%d-%s", i, id), []json.RawMessage{raw}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	r.drained()
	if n := len(r.deliveredOnce()); n != 4+2*len(rooms)*5 {
		t.Fatalf("%d notices delivered, want %d", n, 4+2*len(rooms)*5)
	}
}

const busy = "!busy:test"

// A hand-off that waits for a free slot longer than its lease allows is
// not sent under it: the sender releases it and a claim sends it.
func TestAHandOffThatWaitedTooLongIsClaimedAgain(t *testing.T) {
	r, p := oneReplica(t, func(s *outbox.Sender) { s.Concurrency, s.Lease = 1, 2*time.Second }, busy, room)
	letGo := r.busySlot(p, busy)
	row := p.status(room)
	waitFor(t, "the hand-off to wait for the slot", func() bool { return p.sender.HandOffsWaiting() == 1 })
	// Until less than half the lease is left: too little to send in.
	time.Sleep(p.sender.Lease/2 + 100*time.Millisecond)
	letGo()
	r.drained()
	if _, ok := r.deliveredOnce()[row]; !ok {
		t.Fatalf("row %d not delivered", row)
	}
	if !slices.Contains(p.store.claims(), room) {
		t.Fatal("the room was sent under a lease that was about to run out; want it released and claimed")
	}
}

// A sender that stops releases the hand-offs it has not taken, so another
// sender can claim them at once instead of after their lease.
func TestAStoppingSenderReleasesItsHandOffs(t *testing.T) {
	r, p := oneReplica(t, func(s *outbox.Sender) { s.Concurrency = 1 }, busy, room)
	letGo := r.busySlot(p, busy)
	p.status(room)
	waitFor(t, "the hand-off to wait for the slot", func() bool { return p.sender.HandOffsWaiting() == 1 })
	stopped := make(chan struct{})
	go func() { p.stop(); close(stopped) }()
	waitFor(t, "the waiting hand-off to be released", func() bool {
		owner, dueNow := r.lease(room)
		return owner == "" && dueNow
	})
	letGo()
	<-stopped
}

// A retry whose backoff ran out is claimed even while hand-offs keep the
// sender busy: they wake it often, but the poll's claim still comes.
func TestARetryIsClaimedWhileHandOffsKeepComing(t *testing.T) {
	r, p := oneReplica(t, func(s *outbox.Sender) { s.Poll = 200 * time.Millisecond }, busy, room) // far longer than a decision
	row := r.refusedStatus(p, room)
	sent := func(row int64) func() bool {
		return func() bool {
			return slices.ContainsFunc(r.hs.deliveries(), func(d delivery) bool { return d.row == row })
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !sent(row)(); {
		if time.Now().After(deadline) {
			t.Fatal("the retry was not sent while decisions kept handing off rows")
		}
		// One at a time, so each finds its room idle and is handed off.
		waitFor(t, "a busy room's row", sent(p.status(busy)))
	}
}
