// Package voice is `walkie-bench live`: how soon a listener hears a
// speaker through the web client, in Chromium, on the real stack. Two
// rooms are measured side by side in one run, press after press in turn:
// one in live mode (LiveKit) and one in broadcast mode (voice broadcast
// chunks through the homeserver).
//
// The fake microphone plays bursts of a 1 kHz tone; the speaker's page
// detects each burst's onset on the microphone track's frames (a detector
// the bench installs, mouth.go), the listener's at its playback (the
// player's probe, or live mode's own), on the same machine's clock. A press comes right after a burst began, while
// the tone still sounds: press to first audio is the press to the
// listener's first onset (its audio starts mid-burst); mouth to ear is the
// next burst's onset at the speaker to its onset at the listener.
package voice

import (
	"context"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// Tone is the fake microphone's sound: bursts long enough to outlast a
// live grant (so the first audio is tone) and silences long enough that
// a burst heard late is not taken for the next one.
var Tone = browser.Tone{On: 2500 * time.Millisecond, Off: 2500 * time.Millisecond}

// Options size a run.
type Options struct {
	Presses  int // measured presses per path, after one to warm up (default 20)
	Progress io.Writer
	LogDir   string // where the stack's logs go (default a temp dir)
}

// Path is what one room's presses measured.
type Path struct {
	Name         string
	MouthToEar   []time.Duration
	PressToAudio []time.Duration
	// Late counts presses whose first audio came after the burst they
	// began in had ended (the tone was silent when audio started): no
	// press-to-audio sample, only mouth to ear.
	Late int
	// JitterBuffer is the listener's mean WebRTC jitter buffer delay per
	// turn (live mode only): the part of mouth to ear the receiving
	// browser holds the audio back.
	JitterBuffer []time.Duration
}

// Result holds both paths.
type Result struct {
	Live, Chunks Path
}

// benchFloor leaves each turn room: a chunked press lasts a tone period
// plus the path's latency.
var benchFloor = timers.Floor{StartTimeout: 10 * time.Second, InactivityTimeout: 10 * time.Second,
	MaxTalk: 2 * time.Minute, QueueTimeout: time.Minute, NoRateLimit: true}

// Run starts PostgreSQL, Dendrite, LiveKit, Walkie (with the web client)
// and Chromium, and measures opts.Presses presses in each room.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Presses <= 0 {
		opts.Presses = 20
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	l, err := StartLiveStack(ctx, opts.LogDir, "livebench", benchFloor, opts.Progress)
	if err != nil {
		return Result{}, err
	}
	defer l.Stop()
	s := l.Stack
	// The browser lives until Close, not until ctx's deadline.
	// The pages' consoles go to the log too (a log.Logger serialises them).
	pageLog := log.New(l.Log, "browser: ", 0)
	b, err := browser.Start(context.WithoutCancel(ctx), browser.Options{Tone: Tone, Logf: pageLog.Printf})
	if err != nil {
		return Result{}, err
	}
	defer b.Close()

	res := Result{Live: Path{Name: "live"}, Chunks: Path{Name: "chunks"}}
	pairs := []*pair{}
	for _, live := range []bool{true, false} {
		fmt.Fprintf(opts.Progress, "setting up the %s room\n", pathName(live))
		p, err := newPair(ctx, s, b, live)
		if err != nil {
			return res, fmt.Errorf("%s room: %w", pathName(live), err)
		}
		pairs = append(pairs, p)
	}
	for i := 0; i <= opts.Presses; i++ {
		for _, p := range pairs {
			out := &res.Chunks
			if p.live {
				out = &res.Live
			}
			m, err := p.press(ctx, i == 0)
			if err != nil {
				return res, fmt.Errorf("%s room, press %d: %w", out.Name, i, err)
			}
			if i == 0 {
				fmt.Fprintf(opts.Progress, "%s: warmed up\n", out.Name)
				continue
			}
			out.MouthToEar = append(out.MouthToEar, m.mouthToEar)
			if m.jitterBuffer > 0 {
				out.JitterBuffer = append(out.JitterBuffer, m.jitterBuffer)
			}
			if m.late {
				out.Late++
			} else {
				out.PressToAudio = append(out.PressToAudio, m.pressToAudio)
			}
			fmt.Fprintf(opts.Progress, "%s press %d/%d: press to first audio %s, mouth to ear %s%s\n",
				out.Name, i, opts.Presses, m.pressToAudioText(), m.mouthToEar.Round(time.Millisecond), m.jitterBufferText())
		}
	}
	return res, nil
}

func pathName(live bool) string {
	if live {
		return "live"
	}
	return "chunks"
}
