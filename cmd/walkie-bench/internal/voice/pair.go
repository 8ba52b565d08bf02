package voice

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

var seq atomic.Int64

// What the pages say (window.walkieDebug, see docs/client.md).
const (
	heardLive  = `window.walkieDebug.live?.toneOnsets ?? []`    // bursts heard live
	heardChunk = `window.walkieDebug.player.stats().toneOnsets` // bursts heard in chunks
)

// pair is a speaker and a listener in a room of their own.
type pair struct {
	live              bool
	room              id.RoomID
	speaker, listener *page
	heardJS           string
}

// newPair creates the room (in live mode if live), gives the speaker a
// talk permit and the listener a listen-only one, and opens the room in
// both pages.
func newPair(ctx context.Context, s *stack.Stack, b *browser.Browser, live bool) (*pair, error) {
	n := seq.Add(1)
	p := &pair{live: live, heardJS: heardChunk}
	if live {
		p.heardJS = heardLive
	}
	adminLocal := fmt.Sprintf("benchadmin%d", n)
	admin, err := s.HS.NewUser(ctx, adminLocal, "bench-password-"+adminLocal, "ADMIN")
	if err != nil {
		return nil, err
	}
	if p.speaker, err = openPage(ctx, s, b, fmt.Sprintf("speaker%d", n)); err != nil {
		return nil, err
	}
	if p.listener, err = openPage(ctx, s, b, fmt.Sprintf("listener%d", n)); err != nil {
		return nil, err
	}
	if p.room, err = CreateRoom(ctx, admin, s.Walkie.BotUserID(), live, p.speaker.client, p.listener.client); err != nil {
		return nil, err
	}
	for _, who := range []*page{p.speaker, p.listener} {
		c := who.client
		content := map[string]any{"device_id": c.DeviceID.String(), "send": who == p.speaker, "receive": true}
		if _, err := c.SendStateEvent(ctx, p.room, matrix.TypePermit, "_"+c.UserID.String()+"_"+c.DeviceID.String(), content); err != nil {
			return nil, err
		}
	}
	for _, who := range []*page{p.speaker, p.listener} {
		if err := who.openRoom(p.room.String()); err != nil {
			return nil, err
		}
		if err := who.waitUntil(ctx, "both permits", `(document.getElementById('listeners')?.textContent || '').includes('2 devices')`); err != nil {
			return nil, err
		}
		if live {
			if err := who.waitUntil(ctx, "live audio connected", `document.getElementById('live-status').dataset.liveState === 'connected'`); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// measure is what one press measured.
type measure struct {
	pressToAudio, mouthToEar time.Duration
	late                     bool // the first audio came after its burst had ended
	// jitterBuffer is the listener's mean WebRTC jitter buffer delay over
	// the turn's track, read as the next burst was heard (live mode; 0
	// when unread).
	jitterBuffer time.Duration
}

func (m measure) jitterBufferText() string {
	if m.jitterBuffer == 0 {
		return ""
	}
	return fmt.Sprintf(" (listener's jitter buffer %s)", m.jitterBuffer.Round(time.Millisecond))
}

func (m measure) pressToAudioText() string {
	if m.late {
		return "(late: the burst had ended)"
	}
	return m.pressToAudio.Round(time.Millisecond).String()
}

// press holds the button from just after a burst began at the speaker
// until the next burst was heard, then lets go and waits for the floor to
// be free. The warm-up press (which opens the microphone and, in live
// mode, makes the first publish) measures nothing and waits for no burst.
func (p *pair) press(ctx context.Context, warmUp bool) (m measure, err error) {
	for _, who := range []*page{p.speaker, p.listener} {
		if err := who.floorState(ctx, "free"); err != nil {
			return m, err
		}
	}
	var heard []int64
	if err := p.listener.eval(p.heardJS, &heard); err != nil {
		return m, err
	}
	if !warmUp {
		// The warm-up opened the microphone.
		if err := p.speaker.waitUntil(ctx, "the bench's detector on the microphone", mouthJS); err != nil {
			return m, err
		}
		var spoken []int64
		if err := p.speaker.eval(spokenJS, &spoken); err != nil {
			return m, err
		}
		if _, err := waitFor(ctx, p.speaker, "a burst begin", spokenJS, func(s []int64) bool { return len(s) > len(spoken) }); err != nil {
			return m, err
		}
	}
	pressed := time.Now()
	if err := p.speaker.mouse(true); err != nil {
		return m, err
	}
	if err := p.speaker.floorState(ctx, "talking"); err != nil {
		return m, err
	}
	after := func(from int64) func([]int64) bool {
		return func(onsets []int64) bool { return len(onsets) > 0 && onsets[len(onsets)-1] >= from }
	}
	// The listener's first onset after the press, and the speaker's first.
	first, err := waitFor(ctx, p.listener, "the speaker's audio", p.heardJS, func(h []int64) bool { return len(h) > len(heard) })
	if err != nil {
		return m, err
	}
	if !warmUp {
		spoken, err := waitFor(ctx, p.speaker, "the next burst", spokenJS, after(pressed.UnixMilli()+1))
		if err != nil {
			return m, err
		}
		next := firstFrom(spoken, pressed.UnixMilli()+1)
		from := pairFrom(next, p.live)
		got, err := waitFor(ctx, p.listener, "the next burst heard", p.heardJS, after(from))
		if err != nil {
			return m, err
		}
		heardFirst := first[len(heard)]
		m.late = heardFirst >= next
		m.pressToAudio = time.Duration(heardFirst-pressed.UnixMilli()) * time.Millisecond
		m.mouthToEar = time.Duration(firstFrom(got, from)-next) * time.Millisecond
		if p.live {
			if m.jitterBuffer, err = p.jitterBuffer(); err != nil {
				return m, err
			}
		}
	}
	if err := p.speaker.mouse(false); err != nil {
		return m, err
	}
	for _, who := range []*page{p.speaker, p.listener} {
		if err := who.floorState(ctx, "free"); err != nil {
			return m, err
		}
	}
	return m, nil
}

// pairSlack is how much earlier than the burst's onset at the speaker
// its onset at the listener may be timed and still pair with it. When the
// bench timed the mouth at the client's capture graph (see mouth.go),
// those times came out up to 100 ms late, the listener's onset was timed
// before the speaker's, and pairing only onsets at or after the speaker's
// took the next burst's instead, one tone period (5 s) on. The mouth is
// timed at the microphone now; the slack stays, so that a timing error
// shows as a sample below zero, not as a 5 s one. It is well inside the
// tone's silence (2.5 s). Live mode only: chunks take seconds, and there a
// slack would only let a gap in the previous burst's playback (the tone
// heard again after it) pass for the next burst's onset.
const pairSlack = 500 * time.Millisecond

// jitterBuffer reads the listener's mean jitter buffer delay of the audio
// it receives now (live.js's jitterBuffer).
func (p *pair) jitterBuffer() (time.Duration, error) {
	var jb *struct{ Delay float64 }
	if err := p.listener.evalAwait(`window.walkieDebug.live.jitterBuffer?.() ?? null`, &jb); err != nil || jb == nil {
		return 0, err
	}
	return time.Duration(jb.Delay * float64(time.Second)), nil
}

// pairFrom is the earliest listener onset that may pair with the speaker's
// onset at next (Unix milliseconds).
func pairFrom(next int64, live bool) int64 {
	if live {
		return next - pairSlack.Milliseconds()
	}
	return next
}

// firstFrom is the first onset at or after from (onsets are in order).
func firstFrom(onsets []int64, from int64) int64 {
	for _, o := range onsets {
		if o >= from {
			return o
		}
	}
	return 0
}

// CreateRoom: admin creates a room with Walkie at level 100, puts it in
// live mode if asked, the members join, and it returns once Walkie's
// floor state says the room is ready (and live, if asked).
func CreateRoom(ctx context.Context, admin *mautrix.Client, bot string, live bool, members ...*mautrix.Client) (id.RoomID, error) {
	invite := []id.UserID{id.UserID(bot)}
	for _, m := range members {
		invite = append(invite, m.UserID)
	}
	resp, err := admin.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: invite,
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{admin.UserID: 100, id.UserID(bot): 100}}})
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if _, err := m.JoinRoomByID(ctx, resp.RoomID); err != nil {
			return "", err
		}
	}
	wait, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	// Walkie sets the permit level up after it published the first floor.
	if _, err := dendrite.WaitForPermitLevel(wait, admin, resp.RoomID); err != nil {
		return "", fmt.Errorf("no permit level set up in %s: %w", resp.RoomID, err)
	}
	if !live {
		return resp.RoomID, nil
	}
	if _, err := admin.SendStateEvent(ctx, resp.RoomID, matrix.TypeFloorConfig, "", map[string]any{"mode": floor.ModeLive}); err != nil {
		return "", err
	}
	_, err = dendrite.WaitForFloor(wait, admin, resp.RoomID, func(f floor.FloorState) bool { return f.Mode == floor.ModeLive })
	return resp.RoomID, err
}
