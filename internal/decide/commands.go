package decide

import (
	"fmt"
	"strings"
	"time"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

const commandHelp = "Walkie commands: `!walkie status` (who holds the floor, the queue), " +
	"`!walkie release` (moderators: free the floor), `!walkie config` (the room's effective floor settings)."

// command answers `!walkie …` in a room with a notice replying to it. It
// runs inside the room's decision, so what it reports is what the engine
// sees.
func (d *Decider) command(room *floor.Room, env matrix.Envelope, args string) translation {
	reply, inputs := d.commandReply(room, env.Sender, args)
	tr := translation{inputs: inputs}
	if reply != "" {
		tr.calls = []matrix.Call{matrix.NoticeCall(reply, env.EventID)}
	}
	return tr
}

func (d *Decider) commandReply(room *floor.Room, sender, args string) (string, []floor.Input) {
	if !room.Managed || room.Passive {
		return "", nil // another controller, or no power: stay quiet
	}
	if !d.permissions.PermissionLevel(sender).Allows(config.LevelUser) {
		return "", nil // blocked users' commands are ignored (config permissions)
	}
	switch strings.ToLower(strings.TrimSpace(args)) {
	case "status":
		return statusText(room, d.manage), nil
	case "config":
		return configText(room.Config), nil
	case "release":
		moderator := room.Power.UserLevel(sender) >= room.Power.StateLevel(floor.TypeFloorConfig)
		if !moderator && !d.permissions.PermissionLevel(sender).Allows(config.LevelAdmin) {
			return "Only room moderators may release the floor.", nil
		}
		if room.Holder == nil {
			return "The floor is already free.", nil
		}
		// The release names the turn seen here: a deadline that is
		// overdue fires first and may hand the floor to someone else.
		h := room.Holder
		return fmt.Sprintf("Releasing the floor held by %s (%s), term %d.", h.UserID, h.DeviceID, room.Term),
			[]floor.Input{floor.AdminRelease{By: sender, Holder: h.Device, Term: room.Term}}
	}
	return commandHelp, nil
}

// statusText is the floor and its queue, and, when members cannot send
// permits or broadcast info, that and what to do: otherwise a room where
// nobody can ever get the floor would look as if all were well.
func statusText(room *floor.Room, manage bool) string {
	var b strings.Builder
	if room.Holder == nil {
		fmt.Fprintf(&b, "The floor is free (term %d).", room.Term)
	} else {
		fmt.Fprintf(&b, "%s (%s) holds the floor, term %d, %s.", room.Holder.UserID, room.Holder.DeviceID, room.Term, room.Holder.Phase)
	}
	if len(room.Queue) == 0 {
		b.WriteString(" Nobody is waiting.")
	} else {
		b.WriteString(" Queue:")
		for i, q := range room.Queue {
			fmt.Fprintf(&b, " %d. %s (%s)", i+1, q.UserID, q.DeviceID)
		}
	}
	if problem := floor.MemberPowerProblem(room, manage); problem != "" {
		b.WriteString("\n" + problem)
	}
	return b.String()
}

func configText(c floor.Config) string {
	d := func(v time.Duration) string { return v.String() }
	return fmt.Sprintf("start_timeout %s, inactivity_timeout %s, max_talk %s, pause_grace %s, revoke_grace %s, "+
		"queue_timeout %s, queue %t, max_queue %d, preempt_power_level %d.",
		d(c.StartTimeout), d(c.InactivityTimeout), d(c.MaxTalk), d(c.PauseGrace), d(c.RevokeGrace),
		d(c.QueueTimeout), c.Queue, c.MaxQueue, c.PreemptPowerLevel)
}
