package engine

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
)

// Load names how the measured phase reaches Walkie.
type Load string

const (
	// LoadAppservice: one-event appservice transactions over HTTP, one
	// per sender at a time, as a homeserver pushes them.
	LoadAppservice Load = "appservice"
	// LoadChannel: talk requests from many clients at once, each decided
	// synchronously through the service's Decider as the floor channel
	// decides its requests (Decider.ChannelRequest: the answer is the
	// caller's, not a room event), without the WebSocket itself.
	LoadChannel Load = "channel"
)

// channelScript is the conversation one room plays over the channel, one
// request per step: A asks and is granted; B asks and is queued; A
// releases, which grants the floor to B from the queue; B releases. The
// next cycle moves on to the next pair of devices. No broadcast events:
// over the channel the floor changes hands without them.
type channelScript struct {
	roomID  string
	devices []floor.Device
	cycle   int
	step    int
}

// channelStep is one request and what it must cause: a floor-log line
// with action want for device wantDev.
type channelStep struct {
	dev     floor.Device
	action  string
	want    floor.LogAction
	wantDev floor.Device
	grant   bool
}

func (s *channelScript) next() channelStep {
	a := s.devices[s.cycle%len(s.devices)]
	b := s.devices[(s.cycle+1)%len(s.devices)]
	step := s.step
	s.step++
	switch step {
	case 0:
		return channelStep{dev: a, action: floor.ActionRequest, want: floor.LogGrant, wantDev: a, grant: true}
	case 1:
		return channelStep{dev: b, action: floor.ActionRequest, want: floor.LogQueue, wantDev: b}
	case 2:
		return channelStep{dev: a, action: floor.ActionRelease, want: floor.LogGrant, wantDev: b, grant: true}
	default:
		s.step, s.cycle = 0, s.cycle+1
		return channelStep{dev: b, action: floor.ActionRelease, want: floor.LogRelease, wantDev: b}
	}
}

// channelRequests numbers the channel's requests (their client-chosen IDs).
var channelRequests atomic.Int64

// channelStep makes room i's next request as a channel client would: it
// waits for the committed decision, checks it, records how long a grant
// took to be answered, and hands the room back at once.
func (b *engineRun) channelStep(ctx context.Context, i int) error {
	s := b.channel[i]
	step := s.next()
	in := floor.TalkRequest{Channel: strconv.FormatInt(channelRequests.Add(1), 10),
		Sender: step.dev.UserID, Action: step.action, DeviceID: step.dev.DeviceID}
	start := time.Now()
	_, out, err := b.svc.Decider().ChannelRequest(ctx, s.roomID, in)
	if err != nil {
		return fmt.Errorf("channel request in %s: %w", s.roomID, err)
	}
	if step.grant {
		b.tracker.record(time.Since(start))
	}
	if !caused(out, step.want, step.wantDev) {
		b.tracker.unexpected.Add(1)
	}
	b.ready <- i
	return nil
}

// caused reports whether a decision logged action for dev.
func caused(out decide.Outcome, action floor.LogAction, dev floor.Device) bool {
	for _, l := range out.Log {
		if l.Action == action && l.Device == dev {
			return true
		}
	}
	return false
}
