package revoke

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// Way is one way someone else ends a talker's turn (docs/protocol.md).
type Way struct {
	Name  string
	About string
	// reason is what Walkie's floor log gives for the turn's end.
	reason floor.Reason
	// prepare does what must come before the revoke (reading state) and
	// returns fire, which sends it: the measurement starts as fire is
	// called.
	prepare func(ctx context.Context, r *rig) (fire func() error, err error)
	// restore undoes what the revoke left behind, so the talker may ask
	// again (nil: nothing to undo).
	restore func(ctx context.Context, r *rig) error
}

// Ways are the ways measured, in the order they take turns. A moderator
// cannot withdraw another user's talk permit (Walkie ignores a permit not
// sent by its own user, since no homeserver protects those state keys),
// so the permit way is the talker's user withdrawing it, say from another
// client; the moderator's state-event way is the power-levels change.
var Ways = []Way{
	{Name: "chair", About: "a moderator's talk_request revoke (room event through Dendrite)", reason: floor.ReasonChair,
		prepare: chairRevoke},
	{Name: "preempt", About: "a moderator's request with preempt over the floor channel", reason: floor.ReasonPreempted,
		prepare: preempt, restore: releasePreemption},
	{Name: "power", About: "a moderator lowers the talker's power level (state event through Dendrite)",
		reason: floor.ReasonInsufficientPower, prepare: demote(-1), restore: restorePower},
	{Name: "permit", About: "the talker's permit emptied (state event through Dendrite)", reason: floor.ReasonPermitGone,
		prepare: withdrawPermit, restore: givePermit},
	{Name: "admin", About: "the admin API's release (HTTP to Walkie)", reason: floor.ReasonAdmin, prepare: adminRelease},
}

// pick returns the ways named, all when none is.
func pick(names []string) ([]Way, error) {
	if len(names) == 0 {
		return Ways, nil
	}
	var out []Way
	for _, n := range names {
		found := false
		for _, w := range Ways {
			if w.Name == n {
				out, found = append(out, w), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no way %q (choose from %s)", n, WayNames())
		}
	}
	return out, nil
}

// WayNames lists the ways' names.
func WayNames() string {
	names := make([]string, len(Ways))
	for i, w := range Ways {
		names[i] = w.Name
	}
	return strings.Join(names, ", ")
}

func chairRevoke(ctx context.Context, r *rig) (func() error, error) {
	content := map[string]any{"action": floor.ActionRevoke, "device_id": moderatorDevice, "term": r.term,
		"target": map[string]any{"user_id": r.talker.UserID, "device_id": talkerDevice}}
	return func() error {
		_, err := r.moderator.SendMessageEvent(ctx, r.room, matrix.TypeRequest, content)
		return err
	}, nil
}

// preemptID names the moderator's pre-empting request of the current
// sample, which restore releases.
func (r *rig) preemptID() string { return fmt.Sprintf("preempt-%d", r.term) }

func preempt(ctx context.Context, r *rig) (func() error, error) {
	msg := map[string]any{"type": "request", "room_id": r.room, "id": r.preemptID(), "preempt": true}
	return func() error { return r.moderatorCh.Send(ctx, msg) }, nil
}

// releasePreemption: the moderator lets go of the floor it took.
func releasePreemption(ctx context.Context, r *rig) error {
	granted, err := r.inbox.response(ctx, 0, r.preemptID())
	if err != nil {
		return err
	}
	if granted.m.Status != floor.StatusGranted {
		return fmt.Errorf("the pre-emption was answered %s (%s)", granted.m.Status, granted.m.Reason)
	}
	id := "release-" + r.preemptID()
	mark := r.inbox.len()
	if err := r.moderatorCh.Send(ctx, map[string]any{"type": "release", "room_id": r.room, "id": id, "term": granted.m.Term}); err != nil {
		return err
	}
	_, err = r.inbox.response(ctx, mark, id)
	return err
}

// demote sets the talker's power level to level; the power levels are
// read first, so that the change sent is the moderator's edit of the
// latest ones.
func demote(level int) func(ctx context.Context, r *rig) (func() error, error) {
	return func(ctx context.Context, r *rig) (func() error, error) {
		pl := map[string]any{}
		if err := r.moderator.StateEvent(ctx, r.room, event.StatePowerLevels, "", &pl); err != nil {
			return nil, err
		}
		users, _ := pl["users"].(map[string]any)
		if users == nil {
			users = map[string]any{}
			pl["users"] = users
		}
		users[r.talker.UserID.String()] = level
		return func() error {
			_, err := r.moderator.SendStateEvent(ctx, r.room, event.StatePowerLevels, "", pl)
			return err
		}, nil
	}
}

func restorePower(ctx context.Context, r *rig) error {
	fire, err := demote(0)(ctx, r)
	if err == nil {
		err = fire()
	}
	return err
}

func withdrawPermit(ctx context.Context, r *rig) (func() error, error) {
	return func() error { return permit(ctx, r.room, r.talker, false) }, nil
}

func givePermit(ctx context.Context, r *rig) error { return permit(ctx, r.room, r.talker, true) }

func adminRelease(ctx context.Context, r *rig) (func() error, error) {
	return func() error {
		var out struct{ Released bool }
		if err := r.adminAPI(ctx, http.MethodPost, "/release", &out); err != nil {
			return err
		}
		if !out.Released {
			return fmt.Errorf("the admin API released nothing")
		}
		return nil
	}, nil
}
