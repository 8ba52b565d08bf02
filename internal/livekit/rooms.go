package livekit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
)

// errNotInRoom: the participant (or its room) is not on the server now.
// For the floor that is no failure (see gone), so no call returns it.
var errNotInRoom = errors.New("livekit: no such participant in the room")

// Rooms calls LiveKit's room service (Twirp over HTTP) with Walkie's key.
type Rooms struct {
	client *lksdk.RoomServiceClient
}

// NewRooms talks to the server API at apiURL (http(s):// or ws(s)://).
// Calls take their deadline from the caller's context.
func NewRooms(apiURL, key, secret string) *Rooms {
	return &Rooms{client: lksdk.NewRoomServiceClient(apiURL, key, secret)}
}

// Participant is one LiveKit participant, as the floor needs it.
type Participant struct {
	Identity string
	// UserID and DeviceID come from the attributes of Walkie's token; both
	// are empty for a participant that joined with a token Walkie did not
	// mint.
	UserID   string
	DeviceID string
	// CanPublish is the participant's current publish permission.
	CanPublish bool
	// Microphone: a microphone track of the participant is published.
	Microphone bool
	JoinedAt   time.Time
}

// SetPublish gives or takes identity's permission to publish its
// microphone, sending the whole permission set. Taking it makes the server
// unpublish the participant's tracks at once. A participant that is not
// there is no error (see gone).
func (r *Rooms) SetPublish(ctx context.Context, room, identity string, allowed bool) error {
	_, err := r.client.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{
		Room: room, Identity: identity, Permission: permission(allowed),
	})
	return gone(callError("update participant", err))
}

// Participants lists the participants of room; none if the room does not
// exist.
func (r *Rooms) Participants(ctx context.Context, room string) ([]Participant, error) {
	res, err := r.client.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err := gone(callError("list participants", err)); err != nil || res == nil {
		return nil, err
	}
	out := make([]Participant, 0, len(res.Participants))
	for _, p := range res.Participants {
		out = append(out, participantOf(p))
	}
	return out, nil
}

// Remove disconnects identity from room (a member who left the Matrix
// room must stop listening too). A participant that is not there is no
// error (see gone).
func (r *Rooms) Remove(ctx context.Context, room, identity string) error {
	_, err := r.client.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: identity})
	return gone(callError("remove participant", err))
}

// Ensure creates room unless it exists, for servers that do not create
// rooms on join (room.auto_create: false), as MSC4195 asks of a token
// service.
func (r *Rooms) Ensure(ctx context.Context, room string) error {
	_, err := r.client.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room})
	return callError("create room", err)
}

func participantOf(p *livekit.ParticipantInfo) Participant {
	out := Participant{
		Identity:   p.Identity,
		UserID:     p.Attributes[AttrUserID],
		DeviceID:   p.Attributes[AttrDeviceID],
		CanPublish: p.Permission.GetCanPublish(),
		JoinedAt:   time.Unix(p.JoinedAt, 0),
	}
	for _, t := range p.Tracks {
		if t.Source == livekit.TrackSource_MICROPHONE {
			out.Microphone = true
		}
	}
	return out
}

// callError names the call, and turns Twirp's not_found into errNotInRoom.
func callError(call string, err error) error {
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[twirp.Error](err); ok && te.Code() == twirp.NotFound {
		return fmt.Errorf("livekit: %s: %w (%s)", call, errNotInRoom, te.Msg())
	}
	return fmt.Errorf("livekit: %s: %w", call, err)
}

// gone drops errNotInRoom: for the floor a participant (or room) that is
// not on the server is no failure. One that is gone publishes nothing and
// listens to nothing, one that joins later starts without the permission,
// and a room that does not exist has no participants.
func gone(err error) error {
	if errors.Is(err, errNotInRoom) {
		return nil
	}
	return err
}
