package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
)

// IdleOptions size the idle-sockets run.
type IdleOptions struct {
	Sockets int // authenticated sockets held open in all (default 10,000)
	// Users own the sockets, in turn (default 10); each user's sockets
	// share one OpenID token, which Walkie verifies once and caches.
	Users int
	// Follow has every socket follow one room (all users are in it), as
	// a client does; off, the sockets only authenticate.
	Follow bool
	Idle   time.Duration // the window CPU at rest is measured over (default 30 s)
	// GCWait bounds the wait for a garbage collection in Walkie before
	// its memory is read (default 2m15s: Go collects at least every 2
	// minutes); 0 reads at once.
	GCWait      time.Duration
	Dialers     int // sockets opened at once (default 16)
	Progress    io.Writer
	StackLogDir string
}

// IdleResult is the walkie process without and with the sockets.
type IdleResult struct {
	Options IdleOptions
	// Added sockets were opened between the two readings (the users'
	// first sockets are open in both).
	Added int
	Open  time.Duration // to open, authenticate (and subscribe) Added sockets
	// Before and After are read after a garbage collection where one came
	// within GCWait (GCBefore, GCAfter).
	Before, After     procStats
	GCBefore, GCAfter bool
	// CPU at rest: the process's CPU seconds over the idle window, before
	// and after the sockets were opened.
	IdleBefore, IdleAfter cpuWindow
	// StillOpen is Walkie's socket count after the idle window; Dropped
	// the sockets the bench saw closed before it closed them.
	StillOpen float64
	Dropped   int64
}

// cpuWindow is the CPU time a process used over a stretch of wall time.
type cpuWindow struct {
	cpu  float64 // seconds
	wall time.Duration
}

// perSecond is CPU seconds per second: the share of one core.
func (c cpuWindow) perSecond() float64 { return c.cpu / max(c.wall.Seconds(), 1e-9) }

// RunIdle starts the stack (the walkie binary with its floor channel,
// Dendrite for the OpenID tokens), opens Options.Sockets authenticated
// sockets and measures Walkie's memory and CPU at rest before and after.
func RunIdle(ctx context.Context, opts IdleOptions) (IdleResult, error) {
	opts = opts.withDefaults()
	res := IdleResult{Options: opts, Added: opts.Sockets - opts.Users}
	if res.Added <= 0 {
		return res, fmt.Errorf("%d sockets for %d users: want more sockets than users", opts.Sockets, opts.Users)
	}
	// The bench holds one end of every socket; the walkie binary (Go
	// raises its own soft limit to the hard one) the other.
	if err := raiseFileLimit(uint64(opts.Sockets) + 1024); err != nil {
		return res, err
	}
	logFile, err := os.CreateTemp(opts.StackLogDir, "walkie-idlebench-*.log")
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	perUser := (opts.Sockets + opts.Users - 1) / opts.Users
	fmt.Fprintf(opts.Progress, "starting PostgreSQL, Dendrite and Walkie with its floor channel (logs: %s)\n", logFile.Name())
	s, err := stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", Web: true,
		Channel: testconfig.ChannelLimits{PerUser: perUser, Total: opts.Sockets + 64}})
	if err != nil {
		return res, err
	}
	defer s.Stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pool, err := newIdlePool(ctx, s, opts)
	if err != nil {
		return res, err
	}
	defer pool.closeAll()
	metrics := s.Walkie.MetricsURL()

	fmt.Fprintf(opts.Progress, "baseline: %d sockets (one per user)\n", opts.Users)
	if res.Before, res.GCBefore, err = readAfterGC(ctx, metrics, opts.GCWait); err != nil {
		return res, err
	}
	if res.IdleBefore, err = idleCPU(ctx, metrics, opts.Idle); err != nil {
		return res, err
	}
	fmt.Fprintf(opts.Progress, "opening %d more sockets, %d at a time\n", res.Added, opts.Dialers)
	started := time.Now()
	if err := pool.open(ctx, opts.Users, opts.Sockets, opts.Dialers); err != nil {
		return res, err
	}
	if err := waitSockets(ctx, metrics, float64(opts.Sockets)); err != nil {
		return res, err
	}
	res.Open = time.Since(started)
	fmt.Fprintf(opts.Progress, "%d sockets open; reading memory, then %s at rest\n", opts.Sockets, opts.Idle)
	if res.After, res.GCAfter, err = readAfterGC(ctx, metrics, opts.GCWait); err != nil {
		return res, err
	}
	if res.IdleAfter, err = idleCPU(ctx, metrics, opts.Idle); err != nil {
		return res, err
	}
	end, err := readProcStats(ctx, metrics)
	res.StillOpen, res.Dropped = end.sockets, pool.dropped.Load()
	return res, err
}

func (o IdleOptions) withDefaults() IdleOptions {
	if o.Sockets <= 0 {
		o.Sockets = 10_000
	}
	if o.Users <= 0 {
		o.Users = 10
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	if o.GCWait < 0 {
		o.GCWait = 0
	}
	if o.Dialers <= 0 {
		o.Dialers = 16
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// idlePool is the bench's sockets and the users they belong to.
type idlePool struct {
	webURL string
	room   id.RoomID // followed by every socket ("" when Follow is off)
	tokens []*mautrix.RespOpenIDToken
	// dropped counts sockets that ended while the bench held them.
	dropped  atomic.Int64
	progress io.Writer

	mu      sync.Mutex
	sockets []*floorSocket
}

// newIdlePool logs the users in, puts them in one room and opens each
// user's first socket: its token is verified (and cached by Walkie)
// before the baseline, and once it follows the room Walkie knows the
// user has joined.
func newIdlePool(ctx context.Context, s *stack.Stack, opts IdleOptions) (*idlePool, error) {
	p := &idlePool{webURL: s.Walkie.WebURL(), progress: opts.Progress}
	admin, err := s.HS.NewUser(ctx, "idleadmin", "bench-password-idleadmin", "ADM")
	if err != nil {
		return nil, err
	}
	var users []*mautrix.Client
	for i := range opts.Users {
		local := fmt.Sprintf("idle%d", i)
		u, err := s.HS.NewUser(ctx, local, "bench-password-"+local, "IDLE")
		if err != nil {
			return nil, err
		}
		tok, err := u.RequestOpenIDToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("OpenID token: %w", err)
		}
		users, p.tokens = append(users, u), append(p.tokens, tok)
	}
	if opts.Follow {
		if p.room, err = createRoom(ctx, admin, s.Walkie.BotUserID(), users...); err != nil {
			return nil, err
		}
	}
	// Walkie may learn of a join after the bot's own: the first socket
	// of each user retries until it may follow the room.
	for i := range opts.Users {
		if err := p.add(ctx, i, true); err != nil {
			p.closeAll()
			return nil, fmt.Errorf("user %d's first socket: %w", i, err)
		}
	}
	return p, nil
}

// open opens sockets from..to-1 (socket i belongs to user i mod users),
// dialers at once.
func (p *idlePool) open(ctx context.Context, from, to, dialers int) error {
	next := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range max(1, min(dialers, to-from)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := p.add(ctx, i, false); err != nil {
					select {
					case errs <- fmt.Errorf("socket %d: %w", i, err):
					default:
					}
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := from; i < to; i++ {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
		if (i+1)%1000 == 0 {
			fmt.Fprintf(p.progress, "  %d/%d\n", i+1, to)
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// add opens socket i, authenticates it, has it follow the room, and
// reads from it until it closes.
func (p *idlePool) add(ctx context.Context, i int, retry bool) error {
	sock, err := dialChannel(ctx, p.webURL)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.sockets = append(p.sockets, sock)
	p.mu.Unlock()
	if err := sock.auth(ctx, p.tokens[i%len(p.tokens)], "IDLE"); err != nil {
		return err
	}
	if p.room != "" {
		if err := follow(ctx, sock, p.room.String(), retry); err != nil {
			return err
		}
	}
	go func() {
		_ = sock.listen(ctx, nil)
		if ctx.Err() == nil {
			p.dropped.Add(1)
		}
	}()
	return nil
}

// follow subscribes to room and reads the first push; with retry, a
// refusal (Walkie has not seen the user join yet) is tried again.
func follow(ctx context.Context, sock *floorSocket, room string, retry bool) error {
	deadline := time.Now().Add(waitLimit)
	for {
		if err := sock.send(ctx, map[string]any{"type": "subscribe", "room_id": room}); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, waitLimit)
		m, err := sock.read(rctx)
		cancel()
		switch {
		case err != nil:
			return fmt.Errorf("following the room: %w", err)
		case m.Type == "floor" && m.RoomID == room:
			return nil
		case m.Type == "error" && retry && time.Now().Before(deadline):
			time.Sleep(250 * time.Millisecond) // within the socket's 5 messages a second
		default:
			return fmt.Errorf("following the room: %+v", m)
		}
	}
}

func (p *idlePool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sockets {
		_ = s.ws.CloseNow() // no close handshake: thousands would take a while
	}
	p.sockets = nil
}

// readAfterGC waits up to limit for Walkie to finish a garbage collection,
// so the heap it reports is mostly live, and reads its stats.
func readAfterGC(ctx context.Context, metrics string, limit time.Duration) (procStats, bool, error) {
	first, err := readProcStats(ctx, metrics)
	if err != nil || limit == 0 {
		return first, false, err
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return first, false, err
		}
		st, err := readProcStats(ctx, metrics)
		if err != nil || st.gcs > first.gcs {
			return st, err == nil, err
		}
	}
	st, err := readProcStats(ctx, metrics)
	return st, false, err
}

// idleCPU is the CPU time Walkie uses over d while the bench does nothing.
func idleCPU(ctx context.Context, metrics string, d time.Duration) (cpuWindow, error) {
	start, err := readProcStats(ctx, metrics)
	if err != nil {
		return cpuWindow{}, err
	}
	if err := sleep(ctx, d); err != nil {
		return cpuWindow{}, err
	}
	end, err := readProcStats(ctx, metrics)
	return cpuWindow{cpu: end.cpu - start.cpu, wall: end.at.Sub(start.at)}, err
}

// waitSockets waits until Walkie counts n floor-channel sockets.
func waitSockets(ctx context.Context, metrics string, n float64) error {
	deadline := time.Now().Add(waitLimit)
	var st procStats
	for time.Now().Before(deadline) {
		var err error
		if st, err = readProcStats(ctx, metrics); err != nil {
			return err
		}
		if st.sockets == n {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("walkie counts %.0f floor-channel sockets, want %.0f", st.sockets, n)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("interrupted"), ctx.Err())
	}
}

// Report prints memory per socket and CPU at rest.
func (r IdleResult) Report(w io.Writer) {
	o := r.Options
	following := "authenticated only"
	if o.Follow {
		following = "each following one room"
	}
	fmt.Fprintf(w, "walkie-bench channel-idle: %d sockets of %d users (%s), %d opened in %s (%.0f a second)\n",
		o.Sockets, o.Users, following, r.Added, r.Open.Round(100*time.Millisecond), float64(r.Added)/max(r.Open.Seconds(), 1e-9))
	fmt.Fprintf(w, "walkie process, %d sockets before, %d after (read after a GC: %s / %s):\n", o.Users, o.Sockets, yes(r.GCBefore), yes(r.GCAfter))
	fmt.Fprintf(w, "%-18s %12s %12s %14s\n", "", "before", "after", "per socket")
	kib := func(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
	mib := func(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
	for _, row := range []struct {
		name          string
		before, after float64
		total, each   func(float64) string
	}{
		{"RSS", r.Before.rss, r.After.rss, mib, kib},
		{"heap in use", r.Before.heapInuse, r.After.heapInuse, mib, kib},
		{"goroutine stacks", r.Before.stackInuse, r.After.stackInuse, mib, kib},
		{"goroutines", r.Before.goroutines, r.After.goroutines, count, ratio},
		{"open files", r.Before.openFDs, r.After.openFDs, count, ratio},
	} {
		fmt.Fprintf(w, "%-18s %12s %12s %14s\n", row.name, row.total(row.before), row.total(row.after),
			row.each((row.after-row.before)/float64(r.Added)))
	}
	fmt.Fprintf(w, "CPU at rest (walkie process, %s windows): %.4f s/s with %d sockets, %.4f s/s with %d (%.2f %% and %.2f %% of one core)\n",
		o.Idle, r.IdleBefore.perSecond(), o.Users, r.IdleAfter.perSecond(), o.Sockets,
		100*r.IdleBefore.perSecond(), 100*r.IdleAfter.perSecond())
	fmt.Fprintf(w, "after the idle window Walkie counts %.0f sockets; %d closed under the bench\n", r.StillOpen, r.Dropped)
}

func count(v float64) string { return fmt.Sprintf("%.0f", v) }
func ratio(v float64) string { return fmt.Sprintf("%.2f", v) }

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
