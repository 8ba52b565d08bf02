package lkpeer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// joinTimeout bounds connecting to the server.
const joinTimeout = 30 * time.Second

// participant is the process side: one LiveKit room connection.
type participant struct {
	ctx    context.Context
	cancel context.CancelFunc
	room   *lksdk.Room
	left   sync.Once

	written, bound atomic.Uint64
	seq            atomic.Uint64

	mu           sync.Mutex
	publishStart bool
	attempts     int
	refused      int
	publications int
	inFlight     int  // the attempt waiting for the server's answer, 0 if none
	inFlightCan  bool // whether publishing was allowed when it started
	liveSID      string
	received     map[string]uint64
	lastSent     map[string]time.Time
	subscribed   map[string]int
	arrivals     map[string]*arrivalLog
	unsubscribed map[string]time.Time
	unpublished  time.Time
	// retired holds tracks refused or unpublished, and since when: their
	// writers stop after retireGrace.
	retired map[webrtc.TrackLocal]time.Time
	// sids names the tracks the server confirmed; writtenOn counts the
	// frames written into each, by SID.
	sids      map[webrtc.TrackLocal]string
	writtenOn map[string]uint64
}

// retireGrace is how long a track's writer goes on after the server
// refused or unpublished it: long enough to show that its frames go
// nowhere, short enough that the writers of a long session's many
// attempts do not pile up.
const retireGrace = 5 * time.Second

func newParticipant() *participant {
	ctx, cancel := context.WithCancel(context.Background())
	return &participant{ctx: ctx, cancel: cancel, received: map[string]uint64{}, lastSent: map[string]time.Time{},
		subscribed: map[string]int{}, arrivals: map[string]*arrivalLog{}, unsubscribed: map[string]time.Time{},
		retired: map[webrtc.TrackLocal]time.Time{}, sids: map[webrtc.TrackLocal]string{}, writtenOn: map[string]uint64{}}
}

func (p *participant) join(url, token string) (string, error) {
	if p.room != nil {
		return "", errors.New("already joined")
	}
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = p.onTrackSubscribed
	cb.OnTrackUnsubscribed = func(_ *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		p.mu.Lock()
		p.subscribed[rp.Identity()]--
		p.unsubscribed[rp.Identity()] = time.Now()
		p.mu.Unlock()
	}
	cb.OnLocalTrackUnpublished = func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) {
		p.mu.Lock()
		p.unpublished = time.Now()
		p.retired[pub.TrackLocal()] = p.unpublished
		if pub.SID() == p.liveSID {
			p.liveSID = ""
		}
		p.mu.Unlock()
	}
	room := lksdk.NewRoom(cb)
	ctx, cancel := context.WithTimeout(p.ctx, joinTimeout)
	defer cancel()
	if err := room.JoinWithContextAndToken(ctx, url, token, lksdk.WithDisableRegionDiscovery()); err != nil {
		return "", fmt.Errorf("join %s: %w", url, err)
	}
	p.room = room
	return room.LocalParticipant.Identity(), nil
}

// onTrackSubscribed counts the track's RTP packets for its publisher until
// the track ends.
func (p *participant) onTrackSubscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	identity := rp.Identity()
	p.mu.Lock()
	p.subscribed[identity]++
	p.mu.Unlock()
	go func() {
		for {
			pkt, _, err := track.ReadRTP()
			at := time.Now()
			if err != nil {
				return
			}
			seq, sent, marked := readMarker(pkt.Payload)
			p.mu.Lock()
			p.received[identity]++
			if marked && sent.After(p.lastSent[identity]) {
				p.lastSent[identity] = sent
			}
			p.arrivalLog(identity).add(Arrival{Seq: seq, Sent: sent, At: at})
			p.mu.Unlock()
		}
	}()
}

// publish starts the loop that keeps a microphone track published (see the
// package doc).
func (p *participant) publish() error {
	if p.room == nil {
		return errors.New("not joined")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.publishStart {
		p.publishStart = true
		go p.keepPublishing()
	}
	return nil
}

// keepPublishing starts an attempt whenever nothing is published and no
// attempt is waiting, or when publishing became allowed while the waiting
// attempt had been made without permission (the server dropped that one).
func (p *participant) keepPublishing() {
	p.everyFrame(func(time.Time) bool {
		can := p.canPublish()
		p.mu.Lock()
		start := p.liveSID == "" && (p.inFlight == 0 || (can && !p.inFlightCan))
		if start {
			p.attempts++
			p.inFlight, p.inFlightCan = p.attempts, can
		}
		attempt := p.attempts
		p.mu.Unlock()
		if start {
			go p.attempt(attempt)
		}
		return true
	})
}

// everyFrame calls f every frame duration until the participant leaves
// or f returns false.
func (p *participant) everyFrame(f func(now time.Time) bool) {
	tick := time.NewTicker(frameDuration)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case now := <-tick.C:
			if !f(now) {
				return
			}
		}
	}
}

// retiredLongAgo: the server refused or unpublished track more than
// retireGrace before now.
func (p *participant) retiredLongAgo(track *lksdk.LocalTrack, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.retired[track]
	return ok && now.Sub(at) > retireGrace
}

func (p *participant) canPublish() bool {
	perm := p.room.LocalParticipant.Permissions()
	return perm != nil && perm.CanPublish
}

func (p *participant) attempt(n int) {
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	})
	if err != nil {
		p.attemptDone(n, nil, "", err)
		return
	}
	go p.writeFrames(track)
	pub, err := p.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "microphone", Source: livekit.TrackSource_MICROPHONE,
	})
	sid := ""
	if err == nil {
		sid = pub.SID()
	}
	p.attemptDone(n, track, sid, err)
}

func (p *participant) attemptDone(n int, track *lksdk.LocalTrack, sid string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight == n {
		p.inFlight = 0
	}
	if err != nil {
		if track != nil {
			p.retired[track] = time.Now()
		}
		p.refused++
		fmt.Fprintf(os.Stderr, "lkpeer: publish attempt %d: %v\n", n, err)
		return
	}
	p.publications++
	p.liveSID = sid
	p.sids[track] = sid
}

// writeFrames writes a frame every 20 ms until the participant leaves,
// whether or not the track is published: a refused track whose sender was
// negotiated still sends RTP, which the server must drop. It stops
// retireGrace after the track was refused or unpublished.
func (p *participant) writeFrames(track *lksdk.LocalTrack) {
	p.everyFrame(func(now time.Time) bool {
		if p.retiredLongAgo(track, now) {
			return false
		}
		frame := silenceFrame(p.seq.Add(1), now)
		bound := track.IsBound()
		if err := track.WriteSample(media.Sample{Data: frame, Duration: frameDuration}, nil); err != nil {
			return true
		}
		p.written.Add(1)
		if bound {
			p.bound.Add(1)
		}
		p.mu.Lock()
		if sid, ok := p.sids[track]; ok {
			p.writtenOn[sid]++
		}
		p.mu.Unlock()
		return true
	})
}

func (p *participant) stats() Stats {
	s := Stats{Written: p.written.Load(), Bound: p.bound.Load()}
	if p.room != nil {
		s.Identity = p.room.LocalParticipant.Identity()
		s.CanPublish = p.canPublish()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s.Attempts, s.Refused, s.Publications = p.attempts, p.refused, p.publications
	s.Publishing = p.liveSID != ""
	s.LiveSID = p.liveSID
	s.WrittenOn = maps.Clone(p.writtenOn)
	s.Received = maps.Clone(p.received)
	s.LastSent = maps.Clone(p.lastSent)
	s.Subscribed = maps.Clone(p.subscribed)
	s.Unsubscribed = maps.Clone(p.unsubscribed)
	s.Unpublished = p.unpublished
	return s
}

// arrivalLog is identity's log; the caller holds mu.
func (p *participant) arrivalLog(identity string) *arrivalLog {
	l := p.arrivals[identity]
	if l == nil {
		l = &arrivalLog{}
		p.arrivals[identity] = l
	}
	return l
}

// arrivalsSince returns identity's packets that arrived after since.
func (p *participant) arrivalsSince(identity string, since time.Time) []Arrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.arrivalLog(identity).since(since)
}

// leave disconnects. The goroutines end with the process, which exits
// right after (a publish attempt may wait out the SDK's 10 s otherwise).
func (p *participant) leave() {
	p.left.Do(func() {
		p.cancel()
		if p.room != nil {
			p.room.Disconnect()
		}
	})
}
