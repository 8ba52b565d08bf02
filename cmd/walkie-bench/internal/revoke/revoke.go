// Package revoke is `walkie-bench revoke`: how soon a talker whose turn
// someone else ends goes silent at a listener, in a live-mode room (issue
// 14's revoke to silence, BENCHMARKS.md part F).
//
// The talker and the listener are Go LiveKit participants (lkpeer) whose
// packets can be counted: the talker writes a 20 ms frame every 20 ms,
// each carrying its sequence number and send time, whether or not the
// server still takes them (the SDK's WriteSample returns nil either way);
// the listener logs each packet's arrival. A bench observer follows the
// room on Walkie's floor channel, whose push comes right after a decision
// is committed. Each sample: the talker gets the floor and is heard, then
// the floor is taken away one of several ways (see Ways); revoke to
// silence runs from sending the revoke to the listener's last packet from
// the talker.
package revoke

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/voice"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// Options size a run.
type Options struct {
	Samples int      // measured revokes per way (default 20)
	Ways    []string // which ways, by name (default all of Ways)
	// Progress receives a line per sample; LogDir the stack's and the
	// participants' logs (default a temporary directory).
	Progress io.Writer
	LogDir   string
}

// Result is every way's samples, in the order of Options.Ways.
type Result struct {
	Ways []WayResult
}

// WayResult is one way's samples.
type WayResult struct {
	Way     Way
	Samples []Sample
}

// benchFloor leaves a turn alone for as long as a sample takes: only the
// bench ends it. In live mode start_timeout is the time to the first
// publish, which a pre-empting moderator who does not publish must not
// meet before the bench hands the floor back.
var benchFloor = timers.Floor{StartTimeout: 30 * time.Second, MaxTalk: 10 * time.Minute,
	QueueTimeout: 10 * time.Minute, NoRateLimit: true}

// Run starts PostgreSQL, Dendrite, LiveKit (in a network namespace) and
// Walkie, sets a live room up with a talker, a listener and a moderator,
// and measures opts.Samples revokes per way, the ways taking turns.
// The process must hand over to lkpeer.RunIfPeer first thing in main (or
// TestMain): the participants are this executable, run again.
func Run(ctx context.Context, opts Options) (Result, error) {
	ways, err := pick(opts.Ways)
	if err != nil {
		return Result{}, err
	}
	if opts.Samples <= 0 {
		opts.Samples = 20
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	l, err := voice.StartLiveStack(ctx, opts.LogDir, "revokebench", benchFloor, opts.Progress)
	if err != nil {
		return Result{}, err
	}
	defer l.Stop()
	fmt.Fprintln(opts.Progress, "setting up the live room and its call")
	r, err := newRig(ctx, l)
	if err != nil {
		return Result{}, err
	}
	defer r.close()

	res := Result{}
	for _, w := range ways {
		res.Ways = append(res.Ways, WayResult{Way: w})
	}
	for i := 1; i <= opts.Samples; i++ {
		for j := range res.Ways {
			out := &res.Ways[j]
			smp, err := r.sample(ctx, out.Way)
			if err != nil {
				return res, fmt.Errorf("%s, sample %d: %w", out.Way.Name, i, err)
			}
			out.Samples = append(out.Samples, smp)
			fmt.Fprintf(opts.Progress, "%s %d/%d: %s\n", out.Way.Name, i, opts.Samples, smp)
		}
	}
	return res, nil
}
