package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// ChannelOptions size the channel-against-room-events run.
type ChannelOptions struct {
	Presses int // presses per path (default 120)
	// Sockets is how many sockets the channel's requester presses
	// through in turn (default 4): Walkie takes 5 messages a second per
	// socket (after a burst of 20), and back-to-back presses send more.
	Sockets     int
	Progress    io.Writer
	StackLogDir string
}

// ChannelResult holds both paths' latencies.
type ChannelResult struct {
	// Channel: request sent on the socket → the requester's socket has
	// the response, and the listener's socket the floor push.
	// Room: request sent as an event → the requester's (the listener's)
	// /sync shows the grant.
	Channel, Room Latencies
	// Paced is the time the bench waited, in all, so as not to exceed the
	// channel's per-socket message rate (outside every measured interval;
	// with enough Sockets it is zero).
	Paced time.Duration
}

// RunChannel measures press to grant over the floor channel and over room
// events in one run, on one Walkie and one Dendrite: one room per path,
// presses one at a time, back to back, alternating between the paths
// press by press so both see the same weather.
func RunChannel(ctx context.Context, opts ChannelOptions) (ChannelResult, error) {
	if opts.Presses <= 0 {
		opts.Presses = 120
	}
	if opts.Sockets <= 0 {
		opts.Sockets = 4
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	logFile, err := os.CreateTemp(opts.StackLogDir, "walkie-channelbench-*.log")
	if err != nil {
		return ChannelResult{}, err
	}
	defer logFile.Close()
	fmt.Fprintf(opts.Progress, "starting PostgreSQL, Dendrite and Walkie with its floor channel (logs: %s)\n", logFile.Name())
	s, err := stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", Web: true,
		Floor: timers.Floor{NoRateLimit: true, StartTimeout: 30 * time.Second}})
	if err != nil {
		return ChannelResult{}, err
	}
	defer s.Stop()
	// The sockets' readers end with this context, before the stack stops.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	roomPath, err := newBenchRoom(ctx, s, "roompath", s.Walkie.BotUserID())
	if err != nil {
		return ChannelResult{}, fmt.Errorf("room path: %w", err)
	}
	channelPath, err := newChannelRoom(ctx, s, "channelpath", opts.Sockets)
	if err != nil {
		return ChannelResult{}, fmt.Errorf("channel path: %w", err)
	}
	defer channelPath.close()
	fmt.Fprintf(opts.Progress, "%d presses per path, alternating channel and room events\n", opts.Presses)
	var res ChannelResult
	err = alternate(ctx, opts.Presses, opts.Progress,
		path{"channel", channelPath, &res.Channel}, path{"room events", roomPath, &res.Room})
	res.Paced = channelPath.paced
	return res, err
}

// Report prints both paths, the ratio channel/room at p95 and MCPTT KPI 1
// for the channel.
func (r ChannelResult) Report(w io.Writer) {
	printLatencies(w, "channel requester", r.Channel.Requester)
	printLatencies(w, "channel listener", r.Channel.Listener)
	printLatencies(w, "room requester", r.Room.Requester)
	printLatencies(w, "room listener", r.Room.Listener)
	ratio := func(a, b []time.Duration) float64 {
		return float64(Percentile(a, 95)) / float64(max(Percentile(b, 95), 1))
	}
	req := ratio(r.Channel.Requester, r.Room.Requester)
	verdict := "met"
	if req > 0.1 {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "ratio channel/room p95: requester = %.3f, listener = %.3f; target requester <= 0.1: %s\n",
		req, ratio(r.Channel.Listener, r.Room.Listener), verdict)
	printKPI1(w, "channel", r.Channel.Requester)
	if r.Paced > 0 {
		fmt.Fprintf(w, "paced %s in all to stay within the channel's message rate (raise -sockets)\n", r.Paced.Round(time.Millisecond))
	}
}
