package e2e

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// SequentialOptions size the sequential probe.
type SequentialOptions struct {
	Presses     int // presses per system (default 120)
	Progress    io.Writer
	StackLogDir string
}

// RunSequential is the probe of issue 13's room-event path: one requester
// per system pressing one press at a time, back to back, the two systems
// alternating press by press, each on a Dendrite of its own (so neither
// loads the other's homeserver, and both see the same machine weather).
// It measures what a client without the floor channel feels when people
// press one after the other.
func RunSequential(ctx context.Context, opts SequentialOptions) (Result, error) {
	if opts.Presses <= 0 {
		opts.Presses = 120
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	rig, err := newEchoRig("seqbench", opts.StackLogDir)
	if err != nil {
		return Result{}, err
	}
	defer rig.close()
	echo, echoReg, logFile := rig.echo, rig.registration, rig.log
	fmt.Fprintf(opts.Progress, "starting two stacks, one for Walkie and one for the echo (logs: %s)\n", logFile.Name())
	floorTimers := timers.Floor{NoRateLimit: true, StartTimeout: 30 * time.Second}
	walkieStack, err := stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", Floor: floorTimers})
	if err != nil {
		return Result{}, err
	}
	defer walkieStack.Stop()
	// The echo's stack runs a Walkie too (a stack always does); it is in
	// none of the echo's rooms.
	echoStack, err := stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", Floor: floorTimers, ExtraRegistrations: []string{echoReg}})
	if err != nil {
		return Result{}, err
	}
	defer echoStack.Stop()
	if err := echo.start(ctx, echoStack.HS.URL()); err != nil {
		return Result{}, err
	}
	walkieRoom, err := newBenchRoom(ctx, walkieStack, "seqwalkie", walkieStack.Walkie.BotUserID())
	if err != nil {
		return Result{}, fmt.Errorf("walkie: %w", err)
	}
	echoRoom, err := newBenchRoom(ctx, echoStack, "seqecho", echo.botUser.String())
	if err != nil {
		return Result{}, fmt.Errorf("echo: %w", err)
	}
	var res Result
	if err := alternate(ctx, opts.Presses, opts.Progress,
		path{"walkie", walkieRoom, &res.Walkie}, path{"echo", echoRoom, &res.Echo}); err != nil {
		return res, err
	}
	if res.WalkieShare, err = scrapeBreakdown(ctx, walkieStack.Walkie.MetricsURL()); err != nil {
		return res, err
	}
	return res, nil
}

// presser is one way of pressing: cycle is one press, request to grant to
// release, returning when the requester and the listener saw the grant.
type presser interface {
	cycle(ctx context.Context) (requester, listener time.Duration, err error)
}

// path is one measured way of pressing and where its latencies go.
type path struct {
	name string
	p    presser
	out  *Latencies
}

// alternate presses once on each path in turn, presses rounds, back to
// back: interleaved press by press, the paths share the machine's weather.
func alternate(ctx context.Context, presses int, progress io.Writer, paths ...path) error {
	for i := range presses {
		for _, p := range paths {
			req, lis, err := p.p.cycle(ctx)
			if err != nil {
				return fmt.Errorf("%s press %d: %w", p.name, i+1, err)
			}
			p.out.Requester = append(p.out.Requester, req)
			p.out.Listener = append(p.out.Listener, lis)
		}
		if (i+1)%20 == 0 {
			fmt.Fprintf(progress, "  %d/%d presses each\n", i+1, presses)
		}
	}
	return nil
}
