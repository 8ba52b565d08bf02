package engine

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// setupTimeout bounds the setup phase; it is generous because it grows
// with the room count.
const setupTimeout = 10 * time.Minute

// measureWalkie sets the rooms up, then runs and drains the measured phase,
// filling in Walkie's half of the report.
func (b *engineRun) measureWalkie(ctx context.Context, rep *Report) error {
	start := time.Now()
	if err := b.setup(ctx); err != nil {
		return err
	}
	rep.Setup = time.Since(start)
	b.progressf("setup: %d rooms managed, floor state published in each, in %s", b.o.Rooms, rep.Setup.Round(time.Millisecond))
	// The stand-in no longer needs the rooms' state (Walkie loaded it
	// while joining): drop it so the process's memory is Walkie's.
	b.standin.DropRoomStates()
	if err := b.readMemory(ctx, &rep.MemoryAfterSetup); err != nil {
		return err
	}
	if err := b.measure(ctx, rep); err != nil {
		return err
	}
	return b.readMemory(ctx, &rep.MemoryAfterLoad)
}

// setup delivers one transaction per room with its initial state and
// waits until Walkie manages every room and has nothing left to do.
func (b *engineRun) setup(ctx context.Context) error {
	rooms := make(chan int)
	errs := make(chan error, b.o.Senders)
	var wg sync.WaitGroup
	for range b.o.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rooms {
				s := b.scripts[i]
				events := b.events.RoomWithPermits(s.roomID, roomCreator, b.bot, s.devices)
				b.standin.SetRoomState(s.roomID, events)
				if err := b.poster.push(ctx, events...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var pushErr error
feed:
	for i := range b.o.Rooms {
		select {
		case rooms <- i:
		case pushErr = <-errs:
			break feed
		}
	}
	close(rooms)
	wg.Wait()
	if pushErr != nil {
		return pushErr
	}
	select {
	case err := <-errs:
		return err
	default:
	}

	deadline := time.Now().Add(setupTimeout)
	lastProgress := time.Now()
	for {
		bl, err := readBacklog(ctx, b.db)
		if err != nil {
			return err
		}
		unpublished := b.tracker.unpublished()
		if bl.idle() && bl.Managed == int64(b.o.Rooms) && unpublished == 0 {
			if bl.Failed > 0 {
				return fmt.Errorf("setup: %d outbox rows failed (see Walkie's log)", bl.Failed)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("setup did not finish in %s: %d of %d rooms managed, %d without floor state, %d events undecided, %d sends pending",
				setupTimeout, bl.Managed, b.o.Rooms, unpublished, bl.Unprocessed, bl.Unsent)
		}
		if time.Since(lastProgress) >= b.o.ProgressEvery {
			lastProgress = time.Now()
			b.progressf("setup: %d of %d rooms managed, %d events undecided, %d sends pending", bl.Managed, b.o.Rooms, bl.Unprocessed, bl.Unsent)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// measure runs the senders until the duration or transaction count is
// reached, waits for Walkie to finish what it accepted, and reports.
func (b *engineRun) measure(ctx context.Context, rep *Report) error {
	for i := range b.o.ActiveRooms {
		b.ready <- i
	}
	beforeCounters, err := readCounters(b.metrics)
	if err != nil {
		return err
	}
	beforeBacklog, err := readBacklog(ctx, b.db)
	if err != nil {
		return err
	}
	beforeRequests := b.standin.Requests()
	if b.o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(b.o.CPUProfile); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	mallocs0, bytes0 := allocations()
	walkieCPU0, postgresCPU0 := processCPU(), postgresCPU(b.dataDir)
	start := time.Now()

	sent, err := b.drive(ctx, start, beforeCounters)
	if err != nil {
		return err
	}
	sendEnd := time.Now()
	if err := b.drain(ctx); err != nil {
		return err
	}
	end := time.Now()
	mallocs1, bytes1 := allocations()
	rep.WalkieCPU, rep.PostgresCPU = processCPU()-walkieCPU0, postgresCPU(b.dataDir)-postgresCPU0
	if b.o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}

	afterCounters, err := readCounters(b.metrics)
	if err != nil {
		return err
	}
	afterBacklog, err := readBacklog(ctx, b.db)
	if err != nil {
		return err
	}
	c := afterCounters.since(beforeCounters)
	rep.Window, rep.SendWindow = end.Sub(start), sendEnd.Sub(start)
	rep.Transactions = sent
	rep.Events = c.int(metricEvents)
	rep.Decisions = c.int(metricDecisions)
	rep.Commits = c.int(metricCommits)
	rep.FloorLogRows = afterBacklog.FloorLogRows - beforeBacklog.FloorLogRows
	rep.Grants = c.int(metricGrants)
	rep.Denials = c.int(metricDenials)
	rep.TimerFirings = c.int(metricTimerFirings)
	rep.DecisionErrors = c.int(metricDecisionErrors)
	rep.Sends = c.int(metricSends)
	rep.SendsRetried = c.int(metricSendsRetried)
	rep.SendsFailed = c.int(metricSendsFailed)
	rep.HomeserverCalls = b.standin.Requests() - beforeRequests
	rep.StandInRefused = b.standin.Refused()
	if n := c[metricDecisionLatency+"_count"]; n > 0 {
		rep.InboxToCommitMean = time.Duration(c[metricDecisionLatency+"_sum"] / n * float64(time.Second))
	}
	rep.GrantLatency = summarise(b.tracker.latencies())
	rep.GrantTimeouts = b.tracker.timeouts.Load()
	rep.UnexpectedTerms = b.tracker.unexpected.Load()
	if rep.Decisions > 0 {
		rep.MallocsPerDecision = float64(mallocs1-mallocs0) / float64(rep.Decisions)
		rep.BytesPerDecision = float64(bytes1-bytes0) / float64(rep.Decisions)
	}
	return nil
}

// drive runs the senders: each takes a ready room and plays its next step
// (pushStep or channelStep), which hands the room back when it may go on.
// It returns the number of steps played.
func (b *engineRun) drive(ctx context.Context, start time.Time, before counters) (int64, error) {
	step := b.pushStep
	if b.o.Load == LoadChannel {
		step = b.channelStep
	}
	// stop ends the phase; in-flight transactions still complete, so
	// Walkie never sees a request cancelled halfway. ctx is cancelled only
	// on failure.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	var sent atomic.Int64
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }

	var wg sync.WaitGroup
	for range b.o.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var i int
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				case i = <-b.ready:
				}
				if err := step(ctx, i); err != nil {
					fail(err)
					return
				}
				if n := sent.Add(1); b.o.Transactions > 0 && n >= b.o.Transactions {
					halt()
				}
			}
		}()
	}

	var end <-chan time.Time
	if b.o.Transactions <= 0 {
		end = time.After(b.o.Duration)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastProgress := start
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-stop:
			running = false
		case <-end:
			running = false
		case now := <-tick.C:
			b.tracker.expire(now)
			if now.Sub(lastProgress) >= b.o.ProgressEvery {
				lastProgress = now
				b.progress(now.Sub(start), sent.Load(), before)
			}
		}
	}
	halt()
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return sent.Load(), nil
}

// pushStep sends room i's next step as one transaction, and puts the
// room back, or parks it until the grant the step should cause has been
// published.
func (b *engineRun) pushStep(ctx context.Context, i int) error {
	ev, grant := b.scripts[i].next(b.events, b.tracker.term(i))
	if grant {
		b.tracker.expect(i, time.Now())
	}
	if err := b.poster.push(ctx, ev); err != nil {
		return err
	}
	if !grant || !b.tracker.park(i, time.Now().Add(b.o.GrantTimeout)) {
		b.ready <- i
	}
	return nil
}

func (b *engineRun) progress(elapsed time.Duration, sent int64, before counters) {
	now, err := readCounters(b.metrics)
	if err != nil {
		return
	}
	c := now.since(before)
	lat := summarise(b.tracker.latencies())
	secs := elapsed.Seconds()
	b.progressf("[%4.0fs] %d transactions (%.0f/s), %d decisions (%.0f/s), grant latency p50 %s p99 %s",
		secs, sent, float64(sent)/secs, c.int(metricDecisions), c[metricDecisions]/secs,
		lat.P50.Round(10*time.Microsecond), lat.P99.Round(10*time.Microsecond))
}

// drain waits until Walkie has decided every event it acknowledged and
// sent every resulting request, so the window counts all the work caused
// by the transactions sent in it.
func (b *engineRun) drain(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		pending, err := busy(ctx, b.db)
		if err != nil || !pending {
			return err
		}
		if time.Now().After(deadline) {
			bl, err := readBacklog(ctx, b.db)
			if err != nil {
				return err
			}
			return fmt.Errorf("walkie did not catch up within a minute after the load stopped: %d events undecided, %d sends pending",
				bl.Unprocessed, bl.Unsent)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

func (b *engineRun) progressf(format string, args ...any) {
	if b.o.Progress != nil {
		fmt.Fprintf(b.o.Progress, format+"\n", args...)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
