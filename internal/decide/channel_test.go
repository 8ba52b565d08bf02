package decide_test

import (
	"errors"
	"testing"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

func channelRequest(id, user, device, action string) floor.TalkRequest {
	return floor.TalkRequest{Channel: id, Sender: user, DeviceID: device, Action: action}
}

// latestChange drains the decider's floor changes and returns the last.
func latestChange(t *testing.T, d *decide.Decider) decide.FloorChange {
	t.Helper()
	var last decide.FloorChange
	for {
		select {
		case c := <-d.FloorChanges():
			last = c
		default:
			if last.RoomID == "" {
				t.Fatal("no floor change was published")
			}
			return last
		}
	}
}

func TestChannelRequestIsAnsweredToTheCallerNotTheRoom(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	latestChange(t, f.d)
	since := f.lastID(room)

	// A talk_request of bob's is stored but not decided yet: the channel
	// request's decision takes it along, after the request.
	reqB := f.request(room, bob, "B", "request", nil)
	if _, _, err := f.st.SaveTransaction(f.ctx, "pending", f.inbox(reqB)); err != nil {
		t.Fatal(err)
	}
	resp, out, err := f.d.ChannelRequest(f.ctx, room, channelRequest("c1", alice, "A", floor.ActionRequest))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != floor.StatusGranted || resp.Term != 1 || resp.Channel != "c1" {
		t.Fatalf("answer %+v, want granted at term 1 for c1", resp)
	}
	if len(out.Events) != 1 || out.Events[0].EventID != eventID(reqB) {
		t.Fatalf("decided events %+v, want bob's pending request", out.Events)
	}
	// The room gets the floor state and bob's answer, nothing for alice.
	var floors int
	for _, s := range f.outbox(room) {
		if s.ID > since && s.Kind == matrix.KindState && s.Request.EventType == floor.TypeFloor {
			floors++
		}
	}
	resps := f.responses(room, since)
	if floors == 0 || len(resps) != 1 || resps[0].Status != floor.StatusQueued || resps[0].Device.UserID != bob {
		t.Fatalf("room got %d floor states and responses %+v, want floor state and bob's queued answer only", floors, resps)
	}
	change := latestChange(t, f.d)
	if change.RoomID != room || change.Version != out.FloorVersion || change.Version != f.room(room).FloorVersion ||
		change.Floor.Holder == nil || change.Floor.Holder.UserID != alice || len(change.Floor.Queue) != 1 {
		t.Fatalf("floor change %+v, want version %d held by alice with bob queued", change, out.FloorVersion)
	}

	// A forged device (no permit) is denied, and nothing changes.
	before := f.room(room)
	since = f.lastID(room)
	resp, out, err = f.d.ChannelRequest(f.ctx, room, channelRequest("c2", alice, "FORGED", floor.ActionRequest))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != floor.StatusDenied || resp.Reason != floor.ReasonNoPermit || out.Floor != nil {
		t.Fatalf("answer %+v (floor %+v), want denied no_permit and no floor state", resp, out.Floor)
	}
	after := f.room(room)
	if holderOf(after) != holderOf(before) || after.Term != before.Term || len(after.Queue) != len(before.Queue) ||
		after.FloorVersion != before.FloorVersion || f.lastID(room) != since {
		t.Fatalf("a denied channel request changed the room or wrote to it")
	}

	// Release hands the floor to bob, whose grant goes to the room.
	resp, _, err = f.d.ChannelRequest(f.ctx, room, channelRequest("c3", alice, "A", floor.ActionRelease))
	if err != nil || resp.Status != floor.StatusReleased {
		t.Fatalf("release: %+v, %v", resp, err)
	}
	if resps := f.responses(room, since); len(resps) != 1 || resps[0].Status != floor.StatusGranted || resps[0].Device.UserID != bob {
		t.Fatalf("room responses %+v, want bob's grant only", resps)
	}
	if c := latestChange(t, f.d); c.Floor.Holder == nil || c.Floor.Holder.UserID != bob || c.Version != f.room(room).FloorVersion {
		t.Fatalf("floor change %+v, want bob holding", c)
	}
}

func TestChannelRequestRefusesAnEventRequest(t *testing.T) {
	f := newFixture(t)
	in := channelRequest("", alice, "A", floor.ActionRequest)
	in.EventID = "$e"
	if _, _, err := f.d.ChannelRequest(f.ctx, "!r:test", in); err == nil {
		t.Fatal("a request without a channel name was decided")
	}
}

func TestChannelRequestInARoomTheControllerIsNotIn(t *testing.T) {
	f := newFixture(t)
	// A room never seen: refused, and no row is created for it.
	if _, _, err := f.d.ChannelRequest(f.ctx, "!unknown:test", channelRequest("c1", alice, "A", floor.ActionRequest)); !errors.Is(err, decide.ErrNotJoined) {
		t.Fatalf("unknown room: %v, want ErrNotJoined", err)
	}
	if _, _, err := f.st.Room(f.ctx, "!unknown:test"); !errors.Is(err, store.ErrUnknownRoom) {
		t.Fatalf("the unknown room has a row now: %v", err)
	}
	// A room the bot left: refused, nothing changes.
	const room = "!r:test"
	f.setupRoom(room, alice)
	f.deliver(f.permit(room, alice, "A", nil))
	f.deliver(f.ev(room, bot, "m.room.member", sk(bot), map[string]any{"membership": "leave"}))
	before := f.room(room)
	if _, _, err := f.d.ChannelRequest(f.ctx, room, channelRequest("c2", alice, "A", floor.ActionRequest)); !errors.Is(err, decide.ErrNotJoined) {
		t.Fatalf("a room the bot left: %v, want ErrNotJoined", err)
	}
	if after := f.room(room); after.Term != before.Term || after.Holder != nil || after.FloorVersion != before.FloorVersion {
		t.Fatalf("the refused request changed the room: term %d, holder %+v", after.Term, after.Holder)
	}
}
