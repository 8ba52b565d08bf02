package decide_test

import (
	"testing"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// drainChanges returns the floor changes published so far.
func drainChanges(d *decide.Decider) []decide.FloorChange {
	var all []decide.FloorChange
	for {
		select {
		case c := <-d.FloorChanges():
			all = append(all, c)
		default:
			return all
		}
	}
}

// laterRoom is a room where alice holds the floor (asked in the room) and
// bob's device B waits in the queue: queued by the channel request
// "channel:b1", or, when !overChannel, by a talk_request.
func (f *fixture) laterRoom(room string, overChannel bool) {
	f.t.Helper()
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	f.deliver(f.request(room, alice, "A", "request", nil))
	channel := ""
	if overChannel {
		channel = "channel:b1"
		resp, _, err := f.d.ChannelRequest(f.ctx, room, channelRequest(channel, bob, "B", floor.ActionRequest))
		if err != nil || resp.Status != floor.StatusQueued || resp.Later {
			f.t.Fatalf("bob's channel request: %+v, %v; want queued, its own answer", resp, err)
		}
	} else {
		f.deliver(f.request(room, bob, "B", "request", nil))
	}
	if r := f.room(room); holderOf(r) != alice+"/A" || len(r.Queue) != 1 || r.Queue[0].Channel != channel {
		f.t.Fatalf("room holder %q, queue %+v: want alice holding and bob queued by %q", holderOf(r), r.Queue, channel)
	}
	drainChanges(f.d)
}

// wantLater checks that answers are exactly bob's later answer on
// channel:b1 with status.
func wantLater(t *testing.T, answers []floor.Response, status floor.Status) floor.Response {
	t.Helper()
	if len(answers) != 1 {
		t.Fatalf("later answers %+v, want one for bob", answers)
	}
	a := answers[0]
	if a.Status != status || a.Channel != "channel:b1" || !a.Later || a.InReplyTo != "" || a.Device == nil ||
		a.Device.UserID != bob || a.Device.DeviceID != "B" {
		t.Fatalf("later answer %+v (device %+v), want %s for bob's B on channel:b1", a, a.Device, status)
	}
	return a
}

// A channel request queued and granted later, when the holder releases in
// the room: the grant is no talk_response in the room; it is delivered in
// this process with the floor state it caused, and to another replica
// through the database, ahead of that floor state.
func TestALaterGrantOfAChannelRequestGoesToItsSocketsNotTheRoom(t *testing.T) {
	f := newFixture(t)
	const room = "!later:test"
	notices := pgtest.ListenFloor(t, f.open()) // another replica's listener
	f.laterRoom(room, true)
	since := f.lastID(room)

	outs := f.deliver(f.request(room, alice, "A", "release", nil))
	if holderOf(f.room(room)) != bob+"/B" {
		t.Fatalf("holder %q after alice's release, want bob", holderOf(f.room(room)))
	}
	// (a) The room gets alice's released answer only: nothing for bob.
	resps := f.responses(room, since)
	if len(resps) != 1 || resps[0].Status != floor.StatusReleased || resps[0].Device.UserID != alice {
		t.Fatalf("room responses %+v, want alice's released only", resps)
	}
	granted := wantLater(t, outs[0].Later, floor.StatusGranted)
	if granted.Term != f.room(room).Term || len(outs[0].Answers) != 0 {
		t.Fatalf("grant %+v, immediate answers %+v: want the room's term and no immediate answer", granted, outs[0].Answers)
	}

	// (b) In this process: one change with the answer and the floor state.
	changes := drainChanges(f.d)
	if len(changes) != 1 || changes[0].Floor == nil || changes[0].Floor.Holder == nil || changes[0].Floor.Holder.UserID != bob {
		t.Fatalf("floor changes %+v, want one with bob holding", changes)
	}
	wantLater(t, changes[0].Answers, floor.StatusGranted)

	// (c) Another replica: the answer with the floor state it caused.
	version := f.room(room).FloorVersion
	for {
		n := pgtest.NextNotice(t, notices)
		if n.Version < version {
			continue // the setup's floor states
		}
		if n.RoomID != room || n.Version != version || n.Origin != f.d.Origin() || n.Floor == nil ||
			n.Floor.Holder == nil || n.Floor.Holder.UserID != bob {
			t.Fatalf("notice %+v, want the floor state at version %d with bob holding, from this decider", n, version)
		}
		wantLater(t, n.LaterAnswers(), floor.StatusGranted)
		return
	}
}

// A timer ending the holder's turn (start_timeout) grants the
// channel-queued device; a floor_config that switches the queue off
// drops it. Either answer goes to its sockets (in this process, with
// the decision's floor state); the room gets the holder's answer only.
func TestLaterAnswersOfAChannelRequestGoToItsSockets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		act    func(f *fixture, room string) decide.Outcome
		status floor.Status
		reason floor.Reason
		holder string
		inRoom floor.Status // the holder's answer in the room, if any
	}{
		{"start_timeout grants", func(f *fixture, room string) decide.Outcome { return f.tick(room, timers.StartTimeout) },
			floor.StatusGranted, "", bob + "/B", floor.StatusRevoked},
		{"the queue switched off cancels", func(f *fixture, room string) decide.Outcome {
			return f.deliver(f.ev(room, admin, floor.TypeFloorConfig, sk(""), map[string]any{"queue": false}))[0]
		}, floor.StatusCancelled, floor.ReasonQueueFull, alice + "/A", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			const room = "!later:test"
			f.laterRoom(room, true)
			since := f.lastID(room)

			out := tc.act(f, room)
			if r := f.room(room); holderOf(r) != tc.holder || len(r.Queue) != 0 {
				t.Fatalf("holder %q, queue %+v; want %s holding and nobody queued", holderOf(r), r.Queue, tc.holder)
			}
			resps := f.responses(room, since)
			if tc.inRoom == "" && len(resps) != 0 || tc.inRoom != "" && (len(resps) != 1 || resps[0].Status != tc.inRoom || resps[0].Device.UserID != alice) {
				t.Fatalf("room responses %+v, want only alice's %q", resps, tc.inRoom)
			}
			if a := wantLater(t, out.Later, tc.status); a.Reason != tc.reason {
				t.Fatalf("answer %+v, want reason %q", a, tc.reason)
			}
			changes := drainChanges(f.d)
			if len(changes) != 1 || changes[0].Floor == nil {
				t.Fatalf("floor changes %+v, want one with its floor state", changes)
			}
			wantLater(t, changes[0].Answers, tc.status)
		})
	}
}

// A request made in the room keeps its talk_response in the room when it
// is granted from the queue later.
func TestALaterGrantOfARoomRequestStaysInTheRoom(t *testing.T) {
	f := newFixture(t)
	const room = "!room:test"
	f.laterRoom(room, false)
	since := f.lastID(room)

	outs := f.deliver(f.request(room, alice, "A", "release", nil))
	resps := f.responses(room, since)
	if len(resps) != 2 || resps[1].Status != floor.StatusGranted || resps[1].Device.UserID != bob || resps[1].RelatesTo == nil {
		t.Fatalf("room responses %+v, want alice's released and bob's grant referencing his request", resps)
	}
	if len(outs[0].Later) != 0 {
		t.Fatalf("later answers %+v, want none", outs[0].Later)
	}
	for _, c := range drainChanges(f.d) {
		if len(c.Answers) != 0 {
			t.Fatalf("floor change %+v carries answers, want none", c)
		}
	}
}
