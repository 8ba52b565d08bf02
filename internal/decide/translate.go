package decide

import (
	"fmt"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// translation is what one event means for a room.
type translation struct {
	inputs []floor.Input
	calls  []matrix.Call
	// joined, when set, records the controller's own membership change.
	joined *bool
}

// translate reads one event in the light of the room: the controller's own
// membership, `!walkie` commands, and everything the engine decides on.
func (d *Decider) translate(room *floor.Room, env matrix.Envelope) translation {
	tr := d.translateEvent(room, env)
	if d.fault != nil {
		tr.calls = append(tr.calls, d.fault(env)...)
	}
	return tr
}

func (d *Decider) translateEvent(room *floor.Room, env matrix.Envelope) translation {
	if user, membership, ok := matrix.Membership(env); ok && user == d.controller {
		return d.ownMembership(env, membership)
	}
	if env.Sender != d.controller {
		if args, ok := matrix.Command(env); ok {
			return d.command(room, env, args)
		}
	}
	in, ok := matrix.ParseInput(env)
	if !ok {
		return translation{}
	}
	if matrix.IsEncrypted(env) && !knowsBroadcast(room, in.(floor.Chunk).BroadcastEventID) {
		// An encrypted m.reference to something that is not a broadcast
		// (a poll answer, say) is none of Walkie's business.
		return translation{}
	}
	return translation{inputs: []floor.Input{in}}
}

// ownMembership: invites are accepted from users the config permits; a
// join loads the room's state; leaving (or a ban) stops the timers and
// empties the floor.
func (d *Decider) ownMembership(env matrix.Envelope, membership string) translation {
	joined, left := true, false
	switch membership {
	case "invite":
		if d.permissions.PermissionLevel(env.Sender).Allows(config.LevelUser) {
			d.log.Info().Str("room_id", env.RoomID).Str("inviter", env.Sender).Msg("Accepting invite")
			return translation{calls: []matrix.Call{matrix.JoinCall}}
		}
		d.log.Info().Str("room_id", env.RoomID).Str("inviter", env.Sender).Msg("Declining invite from a user without permission")
		return translation{calls: []matrix.Call{matrix.LeaveCall(
			fmt.Sprintf("%s may not invite Walkie (see permissions in its config)", env.Sender))}}
	case "join":
		return translation{joined: &joined, calls: []matrix.Call{matrix.LoadStateCall}}
	case "leave", "ban":
		// The engine forgets the floor it can no longer enforce.
		in := floor.MemberChange{EventID: env.EventID, UserID: d.controller, Membership: membership}
		return translation{joined: &left, inputs: []floor.Input{in}}
	}
	return translation{}
}

// knowsBroadcast reports whether eventID is a broadcast the engine tracks.
func knowsBroadcast(room *floor.Room, eventID string) bool {
	if room.Holder != nil && room.Holder.BroadcastEventID == eventID {
		return true
	}
	for _, rb := range room.Revoked {
		if rb.EventID == eventID {
			return true
		}
	}
	return false
}
