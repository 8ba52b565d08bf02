package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// heardFrames: the listener must have this many packets of a turn before
// the bench takes it away (half a second of audio).
const heardFrames = 25

// After the listener's track of the talker ended the bench waits
// quietFor, in which the talker must write at least quietFrames frames
// into the revoked track (it writes one every 20 ms), before it reads the
// listener's last packet: a packet that still came through would count.
const (
	quietFor    = time.Second
	quietFrames = 40
)

// retryEvery spaces the talker's requests while Walkie has not yet seen
// the last sample's restore (within the channel's 5 messages a second).
const retryEvery = 250 * time.Millisecond

// Sample is one revoke, its times counted from the moment the bench sent
// it.
type Sample struct {
	// Silence runs to the listener's last packet of the talker's audio
	// (one that carries the talker's marker), or is 0 when that packet came
	// before the revoke was sent: the next frame, 20 ms later, did not.
	Silence time.Duration
	// StreamEnd runs to the listener's last packet on the talker's track
	// of any kind: LiveKit ends a track it closes with 0.2 s of Opus
	// silence frames of its own (its DownTrack's blank frames), which
	// carry no marker and are not the talker's audio.
	StreamEnd time.Duration
	// Decided runs to the floor channel's push of the decision (Walkie
	// pushes right after the commit, before it calls LiveKit).
	Decided time.Duration
	// Unpublished runs to the server telling the talker its track was
	// unpublished (after Walkie's UpdateParticipant); negative when the
	// talker was not told.
	Unpublished time.Duration
	// TrackEnded runs to the listener's track of the talker ending.
	TrackEnded time.Duration
	// AfterDecision counts the listener's packets of the talker's audio
	// that arrived after the push; SentAfter those the talker sent after
	// the revoke was sent.
	AfterDecision, SentAfter int
	// Written counts the frames the talker wrote into the revoked track
	// from the revoke to the sample's end, WriteSample returning nil each
	// time: the silence is the server's doing.
	Written uint64
}

func (s Sample) String() string {
	told := "not told"
	if s.Unpublished >= 0 {
		told = ms(s.Unpublished)
	}
	return fmt.Sprintf("silence %s (decided %s, talker's track unpublished %s, listener's track ended %s, "+
		"LiveKit's closing silence frames until %s; %d packets after the decision, %d sent after the revoke; "+
		"the talker wrote %d more frames into the revoked track)", ms(s.Silence), ms(s.Decided), told, ms(s.TrackEnded),
		ms(s.StreamEnd), s.AfterDecision, s.SentAfter, s.Written)
}

func ms(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

// sample gives the talker the floor, waits until the listener hears it,
// takes the floor away by way w and measures how soon the listener's
// audio from the talker stops, then undoes the revoke.
func (r *rig) sample(ctx context.Context, w Way) (Sample, error) {
	granted := time.Now()
	if err := r.grantTalker(ctx); err != nil {
		return Sample{}, err
	}
	if err := r.hearTalker(ctx); err != nil {
		return Sample{}, err
	}
	fire, err := w.prepare(ctx, r)
	if err != nil {
		return Sample{}, err
	}
	before, err := r.talkerPeer.Stats(ctx)
	if err != nil {
		return Sample{}, err
	}
	track := before.LiveSID
	if track == "" {
		return Sample{}, fmt.Errorf("the talker is heard but has no live track: %+v", before)
	}
	mark := r.inbox.len()
	sent := time.Now()
	if err := fire(); err != nil {
		return Sample{}, fmt.Errorf("sending the revoke: %w", err)
	}
	decided, err := r.inbox.wait(ctx, mark, "the decision's push", func(g got) bool {
		return g.m.Type == "floor" && !r.holds(g.m.FloorState)
	})
	if err != nil {
		return Sample{}, err
	}
	if err := r.endedBy(ctx, w.reason); err != nil {
		return Sample{}, err
	}
	ended, after, err := r.silence(ctx, track)
	if err != nil {
		return Sample{}, err
	}
	arrivals, err := r.listenerPeer.Arrivals(ctx, r.talkerID, granted)
	if err != nil {
		return Sample{}, err
	}
	last := -1 // the talker's last packet
	for i, a := range arrivals {
		if !a.Sent.IsZero() {
			last = i
		}
	}
	if last < 0 {
		return Sample{}, errors.New("the listener had no packet of the talker's audio in this turn")
	}
	smp := Sample{
		Silence:     max(0, arrivals[last].At.Sub(sent)),
		StreamEnd:   arrivals[len(arrivals)-1].At.Sub(sent),
		Decided:     decided.at.Sub(sent),
		Unpublished: -1,
		TrackEnded:  ended.Unsubscribed[r.talkerID].Sub(sent),
		Written:     after.WrittenOn[track] - before.WrittenOn[track],
	}
	if after.Unpublished.After(sent) {
		smp.Unpublished = after.Unpublished.Sub(sent)
	}
	for _, a := range arrivals {
		if a.Sent.IsZero() {
			continue // LiveKit's own silence frames
		}
		if a.At.After(decided.at) {
			smp.AfterDecision++
		}
		if a.Sent.After(sent) {
			smp.SentAfter++
		}
	}
	if w.restore != nil {
		if err := w.restore(ctx, r); err != nil {
			return smp, fmt.Errorf("undoing the revoke: %w", err)
		}
	}
	return smp, nil
}

// holds: the floor is the talker's, in the measured turn.
func (r *rig) holds(f floor.FloorState) bool {
	return f.Holder != nil && f.Holder.UserID == r.talker.UserID.String() && f.Holder.DeviceID == talkerDevice && f.Term == r.term
}

// endedBy checks in Walkie's floor log that the measured turn ended for
// reason, so that each way measures what it names.
func (r *rig) endedBy(ctx context.Context, reason floor.Reason) error {
	var log struct{ Entries []floor.LogEntry }
	if err := r.adminAPI(ctx, http.MethodGet, "/log?limit=20", &log); err != nil {
		return err
	}
	for _, e := range log.Entries {
		if e.Term == r.term && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("the floor log has no line for term %d with reason %s: %+v", r.term, reason, log.Entries)
}

// grantTalker waits for the free floor and has the talker ask for it
// over the floor channel until granted: a request denied because Walkie
// has not yet seen the last sample's restored power or permit is asked
// again.
func (r *rig) grantTalker(ctx context.Context) error {
	deadline := time.Now().Add(waitLimit)
	for r.inbox.latestFloor().Holder != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("the floor never came free: %+v", r.inbox.latestFloor())
		}
		time.Sleep(inboxPoll)
	}
	for {
		r.requests++
		id := fmt.Sprintf("talk-%d", r.requests)
		mark := r.inbox.len()
		if err := r.talkerCh.Send(ctx, map[string]any{"type": "request", "room_id": r.room, "id": id}); err != nil {
			return err
		}
		answer, err := r.inbox.response(ctx, mark, id)
		switch {
		case err != nil:
			return err
		case answer.m.Status == floor.StatusGranted:
			r.term = answer.m.Term
			return nil
		case answer.m.Status != floor.StatusDenied || time.Now().After(deadline):
			return fmt.Errorf("the talker's request was answered %s (%s)", answer.m.Status, answer.m.Reason)
		}
		time.Sleep(retryEvery)
	}
}

// hearTalker waits until the listener hears the talker's new turn and
// Walkie has taken its track_published webhook (the turn's phase is
// talking), so that the revoke meets a turn in its steady state.
func (r *rig) hearTalker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	now, err := r.listenerPeer.Stats(ctx)
	if err != nil {
		return err
	}
	from := now.Received[r.talkerID]
	if _, err := r.listenerPeer.WaitFor(ctx, "the talker's audio", func(s lkpeer.Stats) bool {
		return s.Received[r.talkerID] >= from+heardFrames && s.Subscribed[r.talkerID] > 0
	}); err != nil {
		return err
	}
	for {
		var room struct{ Holder *struct{ Phase string } }
		if err := r.adminAPI(ctx, http.MethodGet, "", &room); err != nil {
			return err
		}
		if room.Holder != nil && room.Holder.Phase == string(floor.PhaseTalking) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the talker's turn never reached talking: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// silence waits until the listener's track of the talker ended, then for
// quietFor, in which the talker must write quietFrames frames into the
// revoked track, and returns the listener's stats at the first and the
// talker's at the second.
func (r *rig) silence(ctx context.Context, track string) (ended, talker lkpeer.Stats, err error) {
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	ended, err = r.listenerPeer.WaitFor(ctx, "the talker's track to end at the listener", func(s lkpeer.Stats) bool {
		return s.Subscribed[r.talkerID] == 0
	})
	if err != nil {
		return ended, talker, err
	}
	now, err := r.talkerPeer.Stats(ctx)
	if err != nil {
		return ended, talker, err
	}
	time.Sleep(quietFor)
	if talker, err = r.talkerPeer.Stats(ctx); err == nil && talker.WrittenOn[track] < now.WrittenOn[track]+quietFrames {
		err = fmt.Errorf("the talker wrote %d frames into the revoked track in %s, want %d at least: it stopped sending",
			talker.WrittenOn[track]-now.WrittenOn[track], quietFor, quietFrames)
	}
	return ended, talker, err
}
