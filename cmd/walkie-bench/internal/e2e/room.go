package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// waitLimit bounds each wait; a bench that hangs is a failed bench.
const waitLimit = 60 * time.Second

// runRoom sets up one room with a requester and a listener and measures
// cycles grants in it.
func runRoom(ctx context.Context, s *stack.Stack, name, bot string, cycles int, pause time.Duration) (Latencies, error) {
	var lat Latencies
	r, err := newBenchRoom(ctx, s, name, bot)
	if err != nil {
		return lat, err
	}
	for range cycles {
		req, lis, err := r.cycle(ctx)
		if err != nil {
			return lat, err
		}
		lat.Requester = append(lat.Requester, req)
		lat.Listener = append(lat.Listener, lis)
		select {
		case <-ctx.Done():
			return lat, ctx.Err()
		case <-time.After(pause):
		}
	}
	return lat, nil
}

// benchRoom is one measured room: a requester with a permit and a
// listener, both syncing.
type benchRoom struct {
	requester          *mautrix.Client
	room               id.RoomID
	reqWatch, lisWatch *floorWatch
	term               int64
}

// roomPeople are a measured room and its members: a requester (device
// TALK) and a listener (device LISTEN), both joined, the bot too.
type roomPeople struct {
	requester, listener *mautrix.Client
	room                id.RoomID
}

func newRoomPeople(ctx context.Context, s *stack.Stack, name, bot string) (roomPeople, error) {
	admin, err := s.HS.NewUser(ctx, name+"admin", "bench-password-"+name+"admin", "ADM")
	if err != nil {
		return roomPeople{}, err
	}
	requester, err := s.HS.NewUser(ctx, name+"talker", "bench-password-"+name+"talker", "TALK")
	if err != nil {
		return roomPeople{}, err
	}
	listener, err := s.HS.NewUser(ctx, name+"listener", "bench-password-"+name+"listener", "LISTEN")
	if err != nil {
		return roomPeople{}, err
	}
	room, err := createRoom(ctx, admin, bot, requester, listener)
	return roomPeople{requester: requester, listener: listener, room: room}, err
}

// permitRequester publishes the requester's talk permit for TALK.
func (p roomPeople) permitRequester(ctx context.Context) error {
	_, err := p.requester.SendStateEvent(ctx, p.room, matrix.TypePermit, "_"+p.requester.UserID.String()+"_TALK",
		map[string]any{"device_id": "TALK", "send": true, "receive": true})
	return err
}

func newBenchRoom(ctx context.Context, s *stack.Stack, name, bot string) (*benchRoom, error) {
	p, err := newRoomPeople(ctx, s, name, bot)
	if err != nil {
		return nil, err
	}
	r := &benchRoom{requester: p.requester, room: p.room}
	if r.reqWatch, err = watchFloor(ctx, p.requester, p.room); err != nil {
		return nil, err
	}
	if r.lisWatch, err = watchFloor(ctx, p.listener, p.room); err != nil {
		return nil, err
	}
	if err := p.permitRequester(ctx); err != nil {
		return nil, err
	}
	if bot != "@echo:localhost" {
		// Walkie counts the permit before the first request can be granted.
		if _, err := r.reqWatch.waitFor(ctx, func(f floor.FloorState) bool { return f.Listeners == 1 }); err != nil {
			return nil, fmt.Errorf("permit never counted: %w", err)
		}
	}
	return r, nil
}

// cycle is one press: request → both clients' /sync show the grant →
// release → both show the idle floor. It returns the request-to-grant
// times of the requester and the listener.
func (r *benchRoom) cycle(ctx context.Context) (requester, listener time.Duration, err error) {
	granted := func(f floor.FloorState) bool {
		return f.Holder != nil && f.Holder.UserID == r.requester.UserID.String() && f.Term > r.term
	}
	sent := time.Now()
	if _, err := r.requester.SendMessageEvent(ctx, r.room, matrix.TypeRequest, map[string]any{"action": "request", "device_id": "TALK"}); err != nil {
		return 0, 0, err
	}
	seen, err := r.reqWatch.waitFor(ctx, granted)
	if err != nil {
		return 0, 0, fmt.Errorf("grant never reached the requester: %w", err)
	}
	heard, err := r.lisWatch.waitFor(ctx, granted)
	if err != nil {
		return 0, 0, fmt.Errorf("grant never reached the listener: %w", err)
	}
	r.term = seen.f.Term
	if _, err := r.requester.SendMessageEvent(ctx, r.room, matrix.TypeRequest, map[string]any{"action": "release", "device_id": "TALK"}); err != nil {
		return 0, 0, err
	}
	idle := func(f floor.FloorState) bool { return f.Holder == nil && f.Term >= r.term }
	if _, err := r.reqWatch.waitFor(ctx, idle); err != nil {
		return 0, 0, fmt.Errorf("release never reached the requester: %w", err)
	}
	if _, err := r.lisWatch.waitFor(ctx, idle); err != nil {
		return 0, 0, err
	}
	return seen.at.Sub(sent), heard.at.Sub(sent), nil
}

func waitJoined(ctx context.Context, c *mautrix.Client, room id.RoomID, user id.UserID) error {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		members, err := c.JoinedMembers(ctx, room)
		if err == nil {
			if _, ok := members.Joined[user]; ok {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s never joined %s", user, room)
}

// floorWatch records every floor state one client's /sync delivers, with
// the moment the sync response arrived.
type floorWatch struct {
	ch chan seenFloor
}

type seenFloor struct {
	f  floor.FloorState
	at time.Time
}

func watchFloor(ctx context.Context, c *mautrix.Client, room id.RoomID) (*floorWatch, error) {
	initial, err := c.SyncRequest(ctx, 0, "", "", false, event.PresenceOffline)
	if err != nil {
		return nil, err
	}
	w := &floorWatch{ch: make(chan seenFloor, 1024)}
	go func() {
		since := initial.NextBatch
		for ctx.Err() == nil {
			resp, err := c.SyncRequest(ctx, 30000, since, "", false, event.PresenceOffline)
			at := time.Now()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			since = resp.NextBatch
			joined, ok := resp.Rooms.Join[room]
			if !ok {
				continue
			}
			for _, ev := range append(joined.State.Events, joined.Timeline.Events...) {
				if ev.Type.Type != floor.TypeFloor {
					continue
				}
				var f floor.FloorState
				if json.Unmarshal(ev.Content.VeryRaw, &f) == nil {
					w.ch <- seenFloor{f: f, at: at}
				}
			}
		}
	}()
	return w, nil
}

func (w *floorWatch) waitFor(ctx context.Context, pred func(floor.FloorState) bool) (seenFloor, error) {
	timeout := time.After(waitLimit)
	for {
		select {
		case s := <-w.ch:
			if pred(s.f) {
				return s, nil
			}
		case <-timeout:
			return seenFloor{}, fmt.Errorf("no matching floor state within %s", waitLimit)
		case <-ctx.Done():
			return seenFloor{}, ctx.Err()
		}
	}
}

// createRoom: admin creates a room with the bot at level 100 and the
// levels Walkie's room setup would add set up front (the echo baseline
// sets nothing up, and both must start alike); the members join, and the
// bot has joined when it returns.
func createRoom(ctx context.Context, admin *mautrix.Client, bot string, members ...*mautrix.Client) (id.RoomID, error) {
	invite := []id.UserID{id.UserID(bot)}
	for _, m := range members {
		invite = append(invite, m.UserID)
	}
	resp, err := admin.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users:  map[id.UserID]int{admin.UserID: 100, id.UserID(bot): 100},
			Events: map[string]int{floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeFloor: 100},
		},
		Invite: invite,
	})
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if _, err := m.JoinRoomByID(ctx, resp.RoomID); err != nil {
			return "", err
		}
	}
	return resp.RoomID, waitJoined(ctx, admin, resp.RoomID, id.UserID(bot))
}
