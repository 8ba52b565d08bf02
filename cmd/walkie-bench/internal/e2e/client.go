package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// ClientOptions size the web client run.
type ClientOptions struct {
	Turns       int // turns per path (default 40)
	Progress    io.Writer
	StackLogDir string
	// ChromiumPath is the browser (default: browser.DefaultExecPath, or
	// $WALKIE_CHROMIUM).
	ChromiumPath string
}

// ClientResult holds what people using the web client feel, per path.
type ClientResult struct {
	Channel, Room ClientLatencies
}

// ClientLatencies of one path, as the pages measured them.
type ClientLatencies struct {
	// PressToGrant: the talker's pointerdown on the talk button → the
	// button turns to "You are talking" (data-floor-state=talking).
	PressToGrant []time.Duration
	// ListenerSees: the same press → the listener's button shows someone
	// talking (data-floor-state=busy).
	ListenerSees []time.Duration
	// MouthToEar: a tone burst's onset in the talker's microphone →
	// its onset detected on the listener's playback path.
	MouthToEar []time.Duration
}

// RunClient measures through the real web client in Chromium on the real
// stack: two rooms, each with a talker and a listener in browser tabs of
// their own; in one the client uses the floor channel, in the other the
// browsers cannot open it (cut off, as behind a proxy that drops
// WebSockets) and the client uses room events. Turns alternate between
// the two rooms, so both paths see the same weather.
func RunClient(ctx context.Context, opts ClientOptions) (ClientResult, error) {
	if opts.Turns <= 0 {
		opts.Turns = 40
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	logFile, err := os.CreateTemp(opts.StackLogDir, "walkie-clientbench-*.log")
	if err != nil {
		return ClientResult{}, err
	}
	defer logFile.Close()
	fmt.Fprintf(opts.Progress, "starting PostgreSQL, Dendrite, Walkie with its web client, and Chromium (logs: %s)\n", logFile.Name())
	s, err := stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", Web: true, Floor: timers.Floor{NoRateLimit: true}})
	if err != nil {
		return ClientResult{}, err
	}
	defer s.Stop()
	b, err := browser.Start(context.WithoutCancel(ctx), browser.Options{ExecPath: opts.ChromiumPath,
		Logf: func(format string, args ...any) { fmt.Fprintf(logFile, "chromium: "+format+"\n", args...) }})
	if err != nil {
		return ClientResult{}, err
	}
	defer b.Close()
	channel, err := newClientRoom(ctx, s, b, "webchannel", pathChannel)
	if err != nil {
		return ClientResult{}, fmt.Errorf("channel path: %w", err)
	}
	room, err := newClientRoom(ctx, s, b, "webroom", pathRoom)
	if err != nil {
		return ClientResult{}, fmt.Errorf("room path: %w", err)
	}
	fmt.Fprintf(opts.Progress, "%d turns per path, alternating the floor channel and room events (about 6 s a turn)\n", opts.Turns)
	var res ClientResult
	for i := range opts.Turns {
		for _, p := range []struct {
			r   *clientRoom
			out *ClientLatencies
		}{{channel, &res.Channel}, {room, &res.Room}} {
			t, err := p.r.turn(ctx)
			if err != nil {
				return res, fmt.Errorf("%s turn %d: %w", p.r.path, i+1, err)
			}
			p.out.PressToGrant = append(p.out.PressToGrant, t.pressToGrant)
			p.out.ListenerSees = append(p.out.ListenerSees, t.listenerSees)
			p.out.MouthToEar = append(p.out.MouthToEar, t.mouthToEar)
		}
		if (i+1)%10 == 0 {
			fmt.Fprintf(opts.Progress, "  %d/%d turns each\n", i+1, opts.Turns)
		}
	}
	return res, nil
}

// Report prints both paths side by side, and the ratio channel/room.
func (r ClientResult) Report(w io.Writer) {
	printLatencies(w, "channel press-to-grant", r.Channel.PressToGrant)
	printLatencies(w, "room press-to-grant", r.Room.PressToGrant)
	printLatencies(w, "channel listener sees", r.Channel.ListenerSees)
	printLatencies(w, "room listener sees", r.Room.ListenerSees)
	printLatencies(w, "channel mouth-to-ear", r.Channel.MouthToEar)
	printLatencies(w, "room mouth-to-ear", r.Room.MouthToEar)
	ratio := func(a, b []time.Duration, p float64) float64 {
		return float64(Percentile(a, p)) / float64(max(Percentile(b, p), 1))
	}
	fmt.Fprintf(w, "ratio channel/room press-to-grant: p50 = %.3f, p95 = %.3f; mouth-to-ear: p50 = %.2f, p95 = %.2f\n",
		ratio(r.Channel.PressToGrant, r.Room.PressToGrant, 50), ratio(r.Channel.PressToGrant, r.Room.PressToGrant, 95),
		ratio(r.Channel.MouthToEar, r.Room.MouthToEar, 50), ratio(r.Channel.MouthToEar, r.Room.MouthToEar, 95))
	printKPI1(w, "web client over the channel", r.Channel.PressToGrant)
	printKPI1(w, "web client over room events", r.Room.PressToGrant)
}
