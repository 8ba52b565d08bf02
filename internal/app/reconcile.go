package app

import (
	"context"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/store"
)

// reconcileEvery is how often the reconciler compares each live room's
// SFU with its floor. A lost permission change (the SFU was unreachable
// for the outbox's few tries, a webhook LiveKit gave up on) lasts at most
// this long.
const reconcileEvery = 15 * time.Second

// reconcileID names the reconciler's reports in the floor log.
const reconcileID = "reconcile"

// reconcileLoop sets the SFU right at start-up (a permission change lost
// while Walkie was down) and periodically after.
func (l *liveMode) reconcileLoop(ctx context.Context, every func(context.Context, time.Duration, func())) {
	every(ctx, reconcileEvery, func() {
		rooms, err := l.store.LiveKitRooms(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.metrics.ReconcileErrors.Inc()
				l.log.Warn().Err(err).Msg("Could not list the live rooms to reconcile")
			}
			return
		}
		for _, r := range rooms {
			if err := l.reconcile(ctx, r); err != nil && ctx.Err() == nil {
				l.metrics.ReconcileErrors.Inc()
				l.log.Warn().Err(err).Str("room_id", r.RoomID).Str("livekit_room", r.Name).Msg("Could not reconcile a live room")
			}
		}
	})
}

// reconcile compares one room's SFU participants with its floor: only the
// holder's device may publish, only joined members may listen, and a
// holder that was publishing is still there.
//
// The permissions are not set here but decided: each participant whose
// permission is wrong is reported to the engine as if it had just joined
// (floor.MediaJoined), which allows the holder and withdraws anyone else,
// deciding on the room as it is under its lock, and the outbox sends the
// change in order with the room's other permission changes. A change set
// directly from this snapshot could overtake a newer decision's (a holder
// released meanwhile would get its permission back).
//
// The floor is read before the SFU: a holder that was publishing then and
// is gone now has left (its participant_left webhook was lost).
func (l *liveMode) reconcile(ctx context.Context, lr store.LiveKitRoom) error {
	room, joined, err := l.store.Room(ctx, lr.RoomID)
	if err != nil {
		return err
	}
	participants, err := l.rooms.Participants(ctx, lr.Name)
	if err != nil {
		return err
	}
	live := joined && room.Config.Live() && room.Managed && !room.Passive
	var holder *floor.Holder
	if live {
		holder = room.Holder
	}
	var inputs []floor.Input
	reported := map[floor.Device]bool{}
	holderThere := false
	for _, p := range participants {
		dev := floor.Device{UserID: p.UserID, DeviceID: p.DeviceID}
		ours := p.UserID != "" && p.DeviceID != ""
		if ours && room.Members[p.UserID] != "join" {
			// A member who left, or was kicked or banned, stops listening.
			if err := l.rooms.Remove(ctx, lr.Name, p.Identity); err != nil {
				return err
			}
			l.fixed("removed", lr, p)
			continue
		}
		isHolder := ours && holder != nil && holder.Device == dev
		holderThere = holderThere || isHolder
		if p.CanPublish == isHolder {
			continue
		}
		if !live || !ours {
			// Nobody may publish here, and no decision could allow
			// anyone: withdrawing it directly overtakes nothing.
			if err := l.rooms.SetPublish(ctx, lr.Name, p.Identity, false); err != nil {
				return err
			}
			l.fixed("deny", lr, p)
			continue
		}
		if !reported[dev] {
			reported[dev] = true
			inputs = append(inputs, floor.MediaEvent{Kind: floor.MediaJoined, Device: dev, ID: reconcileID})
		}
		action := "deny"
		if isHolder {
			action = "allow"
		}
		l.fixed(action, lr, p)
	}
	if holder != nil && holder.Publishing && !holderThere {
		inputs = append(inputs, floor.MediaEvent{Kind: floor.MediaLeft, Device: holder.Device, ID: reconcileID})
		l.metrics.Reconciled.WithLabelValues("left").Inc()
		l.log.Info().Str("room_id", lr.RoomID).Str("user_id", holder.UserID).Str("device_id", holder.DeviceID).
			Msg("Reconciler: the holder left the SFU unnoticed")
	}
	if len(inputs) == 0 {
		return nil
	}
	_, err = l.decider.DecideInputs(ctx, lr.RoomID, inputs...)
	return err
}

// fixed counts and logs one correction.
func (l *liveMode) fixed(fix string, lr store.LiveKitRoom, p livekit.Participant) {
	l.metrics.Reconciled.WithLabelValues(fix).Inc()
	l.log.Info().Str("room_id", lr.RoomID).Str("livekit_identity", p.Identity).Str("user_id", p.UserID).
		Str("device_id", p.DeviceID).Str("fix", fix).Msg("Reconciler: the SFU differed from the floor")
}
